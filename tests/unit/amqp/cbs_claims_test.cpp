#include "amqp/cbs_claims.h"

#include <doctest/doctest.h>

#include "core/crypto.h"
#include "core/sas_token.h"
#include "core/url_encoding.h"

namespace iothub::amqp {
namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr Permissions kAny = kRegistryRead | kRegistryWrite | kServiceConnect | kDeviceConnect;
const std::string kPartition0 = "emulator/ConsumerGroups/$Default/Partitions/0";

TimePoint At(int64_t seconds) { return TimePoint(std::chrono::seconds(seconds)); }

const AccessPolicies& Policies() {
  static const AccessPolicies policies = AccessPolicies::Defaults();
  return policies;
}

const SasAuthenticator& Authenticator() {
  static const SasAuthenticator sas(
      Policies(), {"localhost", "MyHub.azure-devices.net"},
      [](const std::string&) -> std::optional<DeviceKeys> { return std::nullopt; }, [] { return At(kNow); });
  return sas;
}

// As @azure/core-amqp signs: sr = encodeURIComponent(audience), HMAC over the key's text.
std::string EventHubsToken(const std::string& audience, const std::string& policy, int64_t expiry,
                           std::optional<std::string> key = std::nullopt) {
  const std::string k = key ? *key : Policies().Find(policy)->primary_key;
  const std::string sr = UrlEncodeComponent(audience);
  const std::string sig = crypto::Base64Encode(crypto::HmacSha256(k, sr + "\n" + std::to_string(expiry)));
  return "SharedAccessSignature sr=" + sr + "&sig=" + UrlEncodeComponent(sig) + "&se=" + std::to_string(expiry) +
         "&skn=" + policy;
}

}  // namespace

TEST_CASE("EntityPath: scheme and host go, the entity's path stays") {
  const auto& sas = Authenticator();
  CHECK(EntityPath("sb://localhost:5671/emulator/ConsumerGroups/$Default", sas) == "emulator/ConsumerGroups/$Default");
  CHECK(EntityPath("sb://localhost/emulator", sas) == "emulator");
  CHECK(EntityPath("sb://localhost:15672/emulator/$management", sas) == "emulator/$management");
  CHECK(EntityPath("amqps://myhub.servicebus.windows.net:5671/emulator/", sas) == "emulator/");
  CHECK(EntityPath("sb://localhost", sas) == "");
  CHECK(EntityPath("localhost/devices/d1", sas) == "devices/d1");
  CHECK(EntityPath("myhub.azure-devices.net:443/devices/d1", sas) == "devices/d1");
  CHECK(EntityPath("localhost", sas) == "");
  CHECK(EntityPath("emulator/$management", sas) == "emulator/$management");
  CHECK(EntityPath("$cbs", sas) == "$cbs");
  CHECK(EntityPath("/emulator/ConsumerGroups", sas) == "emulator/ConsumerGroups");
  // A first segment that is not one of the hub's names is the entity's.
  CHECK(EntityPath("otherhost/devices/d1", sas) == "otherhost/devices/d1");
}

TEST_CASE("CbsClaims: put-token takes an Event Hubs token signed with the key text and an IoT Hub token") {
  CbsClaims claims(Authenticator());
  SUBCASE("sb:// with a port") {
    const std::string audience = "sb://localhost:5671/" + kPartition0;
    REQUIRE(claims.Put(audience, EventHubsToken(audience, "service", kNow + 3600), kAny).ok());
    auto p = claims.Covering(kPartition0, kServiceConnect, At(kNow));
    REQUIRE(p);
    CHECK(p->name == "service");
    CHECK(p->token_expiry == kNow + 3600);
  }
  SUBCASE("an IoT Hub token for the host covers every path") {
    const AccessPolicy* owner = Policies().Find("iothubowner");
    REQUIRE(claims.Put("localhost", CreateSasToken("localhost", owner->primary_key, kNow + 60, "iothubowner"), kAny).ok());
    CHECK(claims.Covering(kPartition0, kServiceConnect, At(kNow)));
    CHECK(claims.Covering("emulator/$management", kServiceConnect, At(kNow)));
  }
}

TEST_CASE("CbsClaims: the device SDKs' audience, the token's sr as written (URL-encoded), is the path it names") {
  CbsClaims claims(Authenticator());
  const AccessPolicy* device = Policies().Find("device");
  const std::string token = CreateSasToken("localhost/devices/d1", device->primary_key, kNow + 60, "device");
  REQUIRE(claims.Put("localhost%2Fdevices%2Fd1", token, kAny).ok());
  CHECK(claims.Covering("devices/d1/messages/events", kDeviceConnect, At(kNow)));
  CHECK_FALSE(claims.Covering("devices/d2/messages/events", kDeviceConnect, At(kNow)));
}

TEST_CASE("CbsClaims: put-token refuses a wrong key, an expired token and another host") {
  CbsClaims claims(Authenticator());
  const std::string audience = "sb://localhost/emulator";
  Status wrong_key = claims.Put(audience, EventHubsToken(audience, "service", kNow + 60, "bm90IHRoZSBrZXk="), kAny);
  Status decoded_key = claims.Put(
      audience, CreateSasToken(audience, Policies().Find("service")->primary_key, kNow + 60, "service"), kAny);
  Status expired = claims.Put(audience, EventHubsToken(audience, "service", kNow - 1), kAny);
  Status other_host =
      claims.Put("sb://elsewhere/emulator", EventHubsToken("sb://elsewhere/emulator", "service", kNow + 60), kAny);
  Status no_policy = claims.Put(audience, EventHubsToken(audience, "nosuch", kNow + 60, "a2V5"), kAny);
  Status garbage = claims.Put(audience, "not a token", kAny);
  for (const Status& s : {wrong_key, decoded_key, expired, other_host, no_policy, garbage}) {
    CHECK_FALSE(s.ok());
    CHECK(s.code() == ErrorCode::kIotHubUnauthorizedAccess);
  }
  CHECK_FALSE(claims.Covering("emulator", kAny, At(kNow)));
  CHECK_FALSE(claims.NextExpiry());
}

TEST_CASE("CbsClaims: a claim covers its path and the paths below it, case-insensitively") {
  CbsClaims claims(Authenticator());
  const std::string audience = "sb://localhost/" + kPartition0;
  REQUIRE(claims.Put(audience, EventHubsToken(audience, "service", kNow + 60), kAny).ok());
  CHECK(claims.Covering(kPartition0, kServiceConnect, At(kNow)));
  CHECK(claims.Covering("sb://localhost:5671/" + kPartition0, kServiceConnect, At(kNow)));
  CHECK(claims.Covering("EMULATOR/consumergroups/$default/partitions/0", kServiceConnect, At(kNow)));
  CHECK(claims.Covering(kPartition0 + "/more", kServiceConnect, At(kNow)));
  CHECK_FALSE(claims.Covering("emulator/ConsumerGroups/$Default/Partitions/1", kServiceConnect, At(kNow)));
  CHECK_FALSE(claims.Covering("emulator/ConsumerGroups/$Default/Partitions/00", kServiceConnect, At(kNow)));
  CHECK_FALSE(claims.Covering("emulator", kServiceConnect, At(kNow)));

  const std::string entity = "sb://localhost/emulator";
  REQUIRE(claims.Put(entity, EventHubsToken(entity, "service", kNow + 60), kAny).ok());
  CHECK(claims.Covering("emulator/ConsumerGroups/second/Partitions/3", kServiceConnect, At(kNow)));
  CHECK(claims.Covering("emulator/$management", kServiceConnect, At(kNow)));
  CHECK_FALSE(claims.Covering("emulator2/ConsumerGroups/$Default/Partitions/0", kServiceConnect, At(kNow)));
  CHECK_FALSE(claims.Covering("emulato", kServiceConnect, At(kNow)));
}

TEST_CASE("CbsClaims: only claims with one of the permissions asked for cover") {
  CbsClaims claims(Authenticator());
  const std::string audience = "sb://localhost/emulator";
  // Put only takes a token whose policy has one of the permissions it is given.
  CHECK_FALSE(claims.Put(audience, EventHubsToken(audience, "device", kNow + 60), kServiceConnect).ok());
  REQUIRE(claims.Put(audience, EventHubsToken(audience, "device", kNow + 60), kAny).ok());
  CHECK_FALSE(claims.Covering("emulator", kServiceConnect, At(kNow)));
  CHECK(claims.Covering("emulator", kDeviceConnect, At(kNow)));
  CHECK(claims.Covering("emulator", kServiceConnect | kDeviceConnect, At(kNow)));
}

TEST_CASE("CbsClaims: a claim ends at its token's expiry, and a new token for the audience renews it") {
  CbsClaims claims(Authenticator());
  const std::string audience = "sb://localhost/emulator";
  REQUIRE(claims.Put(audience, EventHubsToken(audience, "service", kNow + 100), kAny).ok());
  CHECK(claims.Covering("emulator", kServiceConnect, At(kNow + 99)));
  CHECK_FALSE(claims.Covering("emulator", kServiceConnect, At(kNow + 100)));
  CHECK(claims.NextExpiry() == At(kNow + 100));

  // The same entity, as another SDK writes its audience: the claim is replaced, not added.
  const std::string again = "sb://LOCALHOST:5671/emulator";
  REQUIRE(claims.Put(again, EventHubsToken(again, "service", kNow + 1000), kAny).ok());
  CHECK(claims.Covering("emulator", kServiceConnect, At(kNow + 500)));
  CHECK(claims.NextExpiry() == At(kNow + 1000));
  claims.DropExpired(At(kNow + 100));
  CHECK(claims.Covering("emulator", kServiceConnect, At(kNow + 500)));
}

TEST_CASE("CbsClaims: DropExpired forgets expired claims and NextExpiry names the next one") {
  CbsClaims claims(Authenticator());
  CHECK_FALSE(claims.NextExpiry());
  const std::string p0 = "sb://localhost/" + kPartition0;
  const std::string mgmt = "sb://localhost/emulator/$management";
  REQUIRE(claims.Put(mgmt, EventHubsToken(mgmt, "service", kNow + 300), kAny).ok());
  REQUIRE(claims.Put(p0, EventHubsToken(p0, "service", kNow + 100), kAny).ok());
  CHECK(claims.NextExpiry() == At(kNow + 100));

  claims.DropExpired(At(kNow + 99));
  CHECK(claims.NextExpiry() == At(kNow + 100));
  claims.DropExpired(At(kNow + 100));
  CHECK(claims.NextExpiry() == At(kNow + 300));
  // Even at a time before its expiry (a clock set back), a dropped claim is gone.
  CHECK_FALSE(claims.Covering(kPartition0, kServiceConnect, At(kNow)));
  CHECK(claims.Covering("emulator/$management", kServiceConnect, At(kNow)));
  claims.DropExpired(At(kNow + 301));
  CHECK_FALSE(claims.NextExpiry());
  CHECK_FALSE(claims.Covering("emulator/$management", kServiceConnect, At(kNow)));
}

}  // namespace iothub::amqp
