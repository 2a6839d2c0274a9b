#include "core/sas_authenticator.h"

#include <doctest/doctest.h>

#include "core/sas_token.h"

namespace iothub {
namespace {

constexpr int64_t kNow = 1'800'000'000;
const char* kDeviceKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const char* kDeviceSecondaryKey = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

SasAuthenticator MakeAuthenticator() {
  return SasAuthenticator(
      AccessPolicies::Defaults(), {"localhost", "127.0.0.1", "MyHub.azure-devices.net"},
      [](const std::string& id) -> std::optional<DeviceKeys> {
        if (id == "dev1") return DeviceKeys{kDeviceKey, kDeviceSecondaryKey, true};
        if (id == "off") return DeviceKeys{kDeviceKey, kDeviceSecondaryKey, false};
        return std::nullopt;
      },
      [] { return TimePoint(std::chrono::seconds(kNow)); });
}

std::string PolicyKey(const char* policy, bool secondary = false) {
  static const AccessPolicies kPolicies = AccessPolicies::Defaults();
  const AccessPolicy* p = kPolicies.Find(policy);
  return secondary ? p->secondary_key : p->primary_key;
}

// A token as the service SDK writes it: sr is the raw host.
std::string ServiceToken(const std::string& sr, const char* policy, const std::string& key, int64_t expiry) {
  auto sig = SignSas(sr, expiry, key).value();
  return "SharedAccessSignature sr=" + sr + "&sig=" + sig + "&skn=" + policy + "&se=" + std::to_string(expiry);
}

}  // namespace

TEST_CASE("SasAuthenticator: who may do what") {
  auto auth = MakeAuthenticator();
  const std::string owner = PolicyKey("iothubowner");
  struct Case {
    const char* name;
    std::string token;
    const char* target;
    Permissions needs;
    bool allowed;
  };
  const Case cases[] = {
      {"owner policy reads the registry", ServiceToken("localhost", "iothubowner", owner, kNow + 60), "devices/x",
       kRegistryRead, true},
      {"secondary key works too", ServiceToken("localhost", "iothubowner", PolicyKey("iothubowner", true), kNow + 60),
       "devices/x", kRegistryWrite, true},
      {"host compared case-insensitively", ServiceToken("myhub.AZURE-devices.net", "iothubowner", owner, kNow + 60),
       "devices/x", kRegistryRead, true},
      {"port in sr host is ignored", ServiceToken("localhost:8443", "iothubowner", owner, kNow + 60), "devices",
       kRegistryRead, true},
      {"expired token", ServiceToken("localhost", "iothubowner", owner, kNow), "devices", kRegistryRead, false},
      {"another hub's host", ServiceToken("other.azure-devices.net", "iothubowner", owner, kNow + 60), "devices",
       kRegistryRead, false},
      {"unknown policy", ServiceToken("localhost", "nobody", owner, kNow + 60), "devices", kRegistryRead, false},
      {"signed with another policy's key", ServiceToken("localhost", "iothubowner", PolicyKey("service"), kNow + 60),
       "devices", kRegistryRead, false},
      {"registryRead cannot write", ServiceToken("localhost", "registryRead", PolicyKey("registryRead"), kNow + 60),
       "devices/x", kRegistryWrite, false},
      {"registryReadWrite can write",
       ServiceToken("localhost", "registryReadWrite", PolicyKey("registryReadWrite"), kNow + 60), "devices/x",
       kRegistryWrite, true},
      {"service policy has no registry rights", ServiceToken("localhost", "service", PolicyKey("service"), kNow + 60),
       "devices/x", kRegistryRead, false},
      {"scoped token covers its own subtree", ServiceToken("localhost/devices/dev1", "iothubowner", owner, kNow + 60),
       "devices/dev1", kRegistryRead, true},
      {"scope is a segment prefix, not a string prefix",
       ServiceToken("localhost/devices/dev1", "iothubowner", owner, kNow + 60), "devices/dev10", kRegistryRead, false},
      {"device key grants DeviceConnect", CreateSasToken("localhost/devices/dev1", kDeviceKey, kNow + 60),
       "devices/dev1", kDeviceConnect, true},
      {"device secondary key too", CreateSasToken("localhost/devices/dev1", kDeviceSecondaryKey, kNow + 60),
       "devices/dev1", kDeviceConnect, true},
      {"device key grants nothing on the registry", CreateSasToken("localhost/devices/dev1", kDeviceKey, kNow + 60),
       "devices/dev1", kRegistryRead, false},
      {"device key does not reach another device", CreateSasToken("localhost/devices/dev1", kDeviceKey, kNow + 60),
       "devices/dev2", kDeviceConnect, false},
      {"disabled device", CreateSasToken("localhost/devices/off", kDeviceKey, kNow + 60), "devices/off",
       kDeviceConnect, false},
      {"unknown device", CreateSasToken("localhost/devices/ghost", kDeviceKey, kNow + 60), "devices/ghost",
       kDeviceConnect, false},
      {"device policy token", CreateSasToken("localhost/devices/any", PolicyKey("device"), kNow + 60, "device"),
       "devices/any", kDeviceConnect, true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto result = auth.Authorize(c.token, c.target, c.needs);
    CHECK(result.ok() == c.allowed);
    if (!result.ok()) CHECK(result.status().code() == ErrorCode::kIotHubUnauthorizedAccess);
  }
}

TEST_CASE("SasAuthenticator: a token that never expires is accepted, its expiry capped to one a clock can hold") {
  auto auth = MakeAuthenticator();
  for (int64_t se : {kNow + 60, int64_t{9'999'999'999}, INT64_MAX}) {
    CAPTURE(se);
    auto result = auth.Authorize(CreateSasToken("localhost/devices/dev1", kDeviceKey, se), "devices/dev1",
                                 kDeviceConnect);
    REQUIRE(result.ok());
    CHECK(result->token_expiry == std::min(se, kLatestTokenExpiry));
    // What the MQTT session does with it: a time point after now, not one wrapped into the past.
    CHECK(TimePoint(std::chrono::seconds(result->token_expiry)) > TimePoint(std::chrono::seconds(kNow)));
  }
}

}  // namespace iothub
