#include "core/twins.h"

#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"
#include "storage/sqlite_twin_store.h"

namespace iothub {
namespace {

using nlohmann::json;

// A connected device that keeps the desired-property patches it is sent.
class RecordingConnection : public DeviceConnections::Connection {
 public:
  void Close(std::string_view) override {}
  bool SendMethodRequest(const std::string&, const std::string&, const std::string&) override { return false; }
  void CloudToDeviceWaiting() override {}
  void SendDesiredPropertiesPatch(int64_t version, const std::string& patch_json) override {
    patches.push_back({version, json::parse(patch_json)});
  }
  std::vector<std::pair<int64_t, json>> patches;
};

// Wired as app/main.cpp wires them, on an in-memory database, with dev1 connected.
struct Fixture {
  storage::SqliteDatabase db{":memory:"};
  storage::SqliteDeviceStore device_store{db};
  storage::SqliteTwinStore twin_store{db};
  DeviceConnections connections{device_store};
  Registry registry{device_store, &connections};
  Twins twins{twin_store, registry, connections};
  std::shared_ptr<RecordingConnection> device = std::make_shared<RecordingConnection>();

  Fixture() {
    DeviceSpec spec;
    spec.device_id = "dev1";
    REQUIRE(registry.Put(spec, {}).ok());
    connections.Attach("dev1", device);
  }
};

const Precondition kAny{Precondition::Kind::kAny, {}};

json DesiredPatch(json desired) { return {{"properties", {{"desired", std::move(desired)}}}}; }

}  // namespace

TEST_CASE_FIXTURE(Fixture, "Twins: a patch of desired null removes every desired property, with a new version") {
  REQUIRE(twins.Patch("dev1", {{"tags", {{"room", "lab"}}}}, kAny).ok());
  auto set = twins.Patch("dev1", DesiredPatch({{"interval", 5}, {"telemetry", {{"on", true}}}}), kAny);
  REQUIRE(set.ok());
  const TwinDocument before = set->second;

  auto cleared = twins.Patch("dev1", DesiredPatch(nullptr), {Precondition::Kind::kEtag, before.etag()});
  REQUIRE(cleared.ok());
  const TwinDocument& after = cleared->second;
  CHECK(after.desired == json::object());
  CHECK(after.desired_version == before.desired_version + 1);
  CHECK(after.version == before.version + 1);
  CHECK(after.desired_metadata.size() == 1);  // only its $lastUpdated: no member keeps metadata
  CHECK(after.desired_metadata.contains("$lastUpdated"));
  CHECK(after.tags == json{{"room", "lab"}});
  CHECK(twins.Get("dev1")->second.desired == json::object());  // stored
  CHECK(twins.DeviceView("dev1").value()["desired"] == json{{"$version", after.desired_version}});

  // The device hears a patch that deletes each property, which its SDK merges into an empty set.
  REQUIRE(device->patches.size() == 2);
  CHECK(device->patches.back().first == after.desired_version);
  CHECK(device->patches.back().second ==
        json{{"interval", nullptr}, {"telemetry", nullptr}, {"$version", after.desired_version}});
}

TEST_CASE_FIXTURE(Fixture, "Twins: desired null needs a matching etag and leaves the twin alone without one") {
  auto set = twins.Patch("dev1", DesiredPatch({{"a", 1}}), kAny);
  REQUIRE(set.ok());
  auto stale = twins.Patch("dev1", DesiredPatch(nullptr), {Precondition::Kind::kEtag, "AAAAAAAAAAE="});
  CHECK(stale.status().code() == ErrorCode::kPreconditionFailed);
  CHECK(twins.Get("dev1")->second.desired == json{{"a", 1}});
  CHECK(device->patches.size() == 1);
}

TEST_CASE_FIXTURE(Fixture, "Twins: desired null on a twin without desired properties is an empty patch with a version") {
  auto cleared = twins.Patch("dev1", DesiredPatch(nullptr), kAny);
  REQUIRE(cleared.ok());
  CHECK(cleared->second.desired_version == 2);
  REQUIRE(device->patches.size() == 1);
  CHECK(device->patches[0].second == json{{"$version", 2}});
}

TEST_CASE_FIXTURE(Fixture, "Twins: desired must otherwise be an object, and a replacement with desired null has none") {
  for (const json& bad : {json(5), json("text"), json::array({1})}) {
    CAPTURE(bad.dump());
    CHECK(twins.Patch("dev1", DesiredPatch(bad), kAny).status().code() == ErrorCode::kArgumentInvalid);
  }
  REQUIRE(twins.Patch("dev1", DesiredPatch({{"a", 1}}), kAny).ok());
  auto replaced = twins.Replace("dev1", {{"tags", {{"t", 1}}}, {"properties", {{"desired", nullptr}}}}, kAny);
  REQUIRE(replaced.ok());
  CHECK(replaced->second.desired == json::object());
  CHECK(replaced->second.tags == json{{"t", 1}});
}

}  // namespace iothub
