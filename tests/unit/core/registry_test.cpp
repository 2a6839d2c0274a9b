#include "core/registry.h"

#include <doctest/doctest.h>

#include "core/crypto.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"

namespace iothub {
namespace {

struct Fixture {
  storage::SqliteDatabase db{":memory:"};
  storage::SqliteDeviceStore store{db};
  Registry registry{store};
};

DeviceSpec Spec(std::string id) {
  DeviceSpec s;
  s.device_id = std::move(id);
  return s;
}

const Precondition kCreate{};
const Precondition kAnyEtag{Precondition::Kind::kAny, {}};
Precondition Etag(std::string e) { return {Precondition::Kind::kEtag, std::move(e)}; }

}  // namespace

TEST_CASE_FIXTURE(Fixture, "Registry: a new SAS device gets two random 32-byte keys") {
  auto d = registry.Put(Spec("dev1"), kCreate);
  REQUIRE(d.ok());
  CHECK(d->auth_type == AuthType::kSas);
  REQUIRE(d->primary_key);
  CHECK(crypto::Base64Decode(*d->primary_key)->size() == 32);
  CHECK(crypto::Base64Decode(*d->secondary_key)->size() == 32);
  CHECK(*d->primary_key != *d->secondary_key);
  CHECK(d->status == DeviceStatus::kEnabled);
  CHECK(d->generation_id.size() == 18);
  CHECK(d->etag() == crypto::Base64Encode("1"));
}

TEST_CASE_FIXTURE(Fixture, "Registry: create refuses an existing id, If-None-Match refuses it as a precondition") {
  REQUIRE(registry.Put(Spec("dev1"), kCreate).ok());
  CHECK(registry.Put(Spec("dev1"), kCreate).status().code() == ErrorCode::kDeviceAlreadyExists);
  CHECK(registry.Put(Spec("dev1"), {Precondition::Kind::kIfNoneMatch, {}}).status().code() ==
        ErrorCode::kPreconditionFailed);
}

TEST_CASE_FIXTURE(Fixture, "Registry: updates need the current etag or *, and keep keys not given") {
  auto created = registry.Put(Spec("dev1"), kCreate).value();
  DeviceSpec disable = Spec("dev1");
  disable.status = DeviceStatus::kDisabled;
  CHECK(registry.Put(disable, Etag("stale")).status().code() == ErrorCode::kPreconditionFailed);
  CHECK(registry.Get("dev1")->status == DeviceStatus::kEnabled);  // nothing written

  auto updated = registry.Put(disable, Etag(created.etag()));
  REQUIRE(updated.ok());
  CHECK(updated->status == DeviceStatus::kDisabled);
  CHECK(updated->etag() != created.etag());
  CHECK(updated->primary_key == created.primary_key);
  CHECK(updated->generation_id == created.generation_id);
  CHECK(updated->status_updated_time != kNever);

  CHECK(registry.Put(Spec("ghost"), kAnyEtag).status().code() == ErrorCode::kDeviceNotFound);
}

TEST_CASE_FIXTURE(Fixture, "Registry: key and thumbprint rules per authentication type") {
  DeviceSpec one_key = Spec("a");
  one_key.primary_key = crypto::Base64Encode(std::string(32, 'k'));
  CHECK(registry.Put(one_key, kCreate).status().code() == ErrorCode::kArgumentInvalid);

  DeviceSpec short_keys = Spec("b");
  short_keys.primary_key = short_keys.secondary_key = crypto::Base64Encode("short");
  CHECK(registry.Put(short_keys, kCreate).status().code() == ErrorCode::kArgumentInvalid);

  DeviceSpec given = Spec("c");
  given.primary_key = crypto::Base64Encode(std::string(32, 'p'));
  given.secondary_key = crypto::Base64Encode(std::string(32, 's'));
  CHECK(registry.Put(given, kCreate)->primary_key == given.primary_key);

  DeviceSpec x509 = Spec("d");
  x509.auth_type = AuthType::kSelfSigned;
  CHECK(registry.Put(x509, kCreate).status().code() == ErrorCode::kArgumentInvalid);
  x509.primary_thumbprint = std::string(40, 'A');
  auto d = registry.Put(x509, kCreate);
  REQUIRE(d.ok());
  CHECK_FALSE(d->primary_key.has_value());

  DeviceSpec ca = Spec("e");
  ca.auth_type = AuthType::kCertificateAuthority;
  ca.primary_key = ca.secondary_key = given.primary_key;
  CHECK(registry.Put(ca, kCreate).status().code() == ErrorCode::kArgumentInvalid);
  CHECK(registry.Statistics().total == 2);  // only c and d exist
}

TEST_CASE_FIXTURE(Fixture, "Registry: device ids follow IoT Hub's rule") {
  for (const char* ok : {"a", "dev-1.x_y", "A%*?!(),:=@$'", "0123456789"}) {
    CAPTURE(ok);
    CHECK(registry.Put(Spec(ok), kCreate).ok());
  }
  for (std::string bad : {std::string(""), std::string(129, 'x'), std::string("a b"), std::string("a/b"),
                          std::string("a#b"), std::string("caf\xc3\xa9")}) {
    CAPTURE(bad);
    CHECK(registry.Put(Spec(bad), kCreate).status().code() == ErrorCode::kArgumentInvalid);
  }
  CHECK(registry.Put(Spec(std::string(128, 'x')), kCreate).ok());
}

TEST_CASE_FIXTURE(Fixture, "Registry: delete honours the etag and re-creation gets a new generation id") {
  auto first = registry.Put(Spec("dev1"), kCreate).value();
  CHECK(registry.Delete("dev1", Etag("stale")).code() == ErrorCode::kPreconditionFailed);
  CHECK(registry.Get("dev1").ok());
  CHECK(registry.Delete("dev1", Etag(first.etag())).ok());
  CHECK(registry.Delete("dev1", {}).code() == ErrorCode::kDeviceNotFound);
  auto second = registry.Put(Spec("dev1"), kCreate).value();
  CHECK(second.generation_id != first.generation_id);
}

TEST_CASE_FIXTURE(Fixture, "Registry: bulk applies what it can and reports the rest per device") {
  REQUIRE(registry.Put(Spec("exists"), kCreate).ok());
  std::vector<BulkItem> items = {
      {Spec("new1"), "create", {}},
      {Spec("exists"), "Create", {}},
      {Spec("missing"), "Update", {}},
      {Spec("exists"), "UpdateIfMatchETag", "stale"},
      {Spec("bad id!#"), "create", {}},
      {Spec("new2"), "sideways", {}},
  };
  auto result = registry.Bulk(items);
  REQUIRE(result.ok());
  CHECK_FALSE(result->is_successful);
  REQUIRE(result->errors.size() == 5);
  CHECK(result->errors[0].device_id == "exists");
  CHECK(result->errors[0].error_code == "DeviceAlreadyExists");
  CHECK(result->errors[1].error_code == "DeviceNotFound");
  CHECK(result->errors[2].error_code == "PreconditionFailed");
  CHECK(result->errors[3].error_code == "ArgumentInvalid");
  CHECK(result->errors[4].error_code == "ArgumentInvalid");
  CHECK(registry.Get("new1").ok());
  CHECK_FALSE(registry.Get("new2").ok());

  auto removed = registry.Bulk({{Spec("new1"), "delete", {}}, {Spec("exists"), "deleteIfMatchETag",
                                                                 registry.Get("exists")->etag()}});
  REQUIRE(removed.ok());
  CHECK(removed->is_successful);
  CHECK(registry.Statistics().total == 0);
  CHECK(registry.Bulk({}).status().code() == ErrorCode::kArgumentInvalid);
  CHECK(registry.Bulk(std::vector<BulkItem>(101, {Spec("x"), "create", {}})).status().code() ==
        ErrorCode::kArgumentInvalid);
}

TEST_CASE_FIXTURE(Fixture, "Registry: statistics count enabled and disabled devices") {
  registry.Put(Spec("a"), kCreate);
  DeviceSpec off = Spec("b");
  off.status = DeviceStatus::kDisabled;
  registry.Put(off, kCreate);
  auto counts = registry.Statistics();
  CHECK(counts.total == 2);
  CHECK(counts.enabled == 1);
  CHECK(counts.disabled == 1);
  CHECK(registry.List(1).size() == 1);
  CHECK(registry.List(10).front().device_id == "a");
}

TEST_CASE_FIXTURE(Fixture, "Registry: only enabled SAS devices' keys are offered to the authenticator") {
  auto d = registry.Put(Spec("a"), kCreate).value();
  CHECK(registry.KeysOf("a")->primary_key == *d.primary_key);
  CHECK(registry.KeysOf("a")->enabled);
  CHECK_FALSE(registry.KeysOf("nobody").has_value());
}

}  // namespace iothub
