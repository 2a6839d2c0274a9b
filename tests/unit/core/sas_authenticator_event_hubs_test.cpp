// Event Hubs tokens (sr=sb://{host}/{entity}...): the Event Hubs SDKs sign with the key's
// text, IoT Hub SDKs with the bytes the key decodes to (spec §6.2, §1.2).
#include <doctest/doctest.h>

#include "core/crypto.h"
#include "core/sas_authenticator.h"
#include "core/sas_token.h"
#include "core/url_encoding.h"

namespace iothub {
namespace {

constexpr int64_t kNow = 1'800'000'000;
constexpr Permissions kAny = kRegistryRead | kRegistryWrite | kServiceConnect | kDeviceConnect;

SasAuthenticator MakeAuthenticator() {
  return SasAuthenticator(
      AccessPolicies::Defaults(), {"localhost", "MyHub.azure-devices.net"},
      [](const std::string&) -> std::optional<DeviceKeys> { return std::nullopt; },
      [] { return TimePoint(std::chrono::seconds(kNow)); });
}

std::string ServiceKey() { return AccessPolicies::Defaults().Find("service")->primary_key; }

// sr, sig and se in the order @azure/core-amqp writes them.
std::string Token(const std::string& audience, const std::string& sig, int64_t expiry,
                  std::optional<std::string> policy = "service") {
  std::string t = "SharedAccessSignature sr=" + UrlEncodeComponent(audience) + "&sig=" + UrlEncodeComponent(sig) +
                  "&se=" + std::to_string(expiry);
  if (policy) t += "&skn=" + *policy;
  return t;
}

// HMAC over the key's text (the Event Hubs SDKs).
std::string SignedWithText(const std::string& audience, const std::string& key, int64_t expiry) {
  return crypto::Base64Encode(
      crypto::HmacSha256(key, UrlEncodeComponent(audience) + "\n" + std::to_string(expiry)));
}

// HMAC over the key's decoded bytes (the IoT Hub SDKs).
std::string SignedWithBytes(const std::string& audience, const std::string& key, int64_t expiry) {
  return SignSas(UrlEncodeComponent(audience), expiry, key).value();
}

}  // namespace

TEST_CASE("SasAuthenticator: an sb:// token counts when signed with the key's text, not its decoded bytes") {
  auto auth = MakeAuthenticator();
  const std::string audience = "sb://localhost:5671/emulator/ConsumerGroups/$Default/Partitions/0";
  const std::string target = "emulator/ConsumerGroups/$Default/Partitions/0";

  auto text = auth.Authorize(Token(audience, SignedWithText(audience, ServiceKey(), kNow + 60), kNow + 60), target,
                             kServiceConnect);
  REQUIRE(text.ok());
  CHECK(text->name == "service");
  CHECK(text->kind == Principal::Kind::kPolicy);
  CHECK(text->token_expiry == kNow + 60);

  auto bytes = auth.Authorize(Token(audience, SignedWithBytes(audience, ServiceKey(), kNow + 60), kNow + 60), target,
                              kServiceConnect);
  CHECK_FALSE(bytes.ok());
  CHECK(bytes.status().code() == ErrorCode::kIotHubUnauthorizedAccess);

  // The secondary key's text counts too; the scheme and host in any case.
  const std::string upper = "SB://LOCALHOST/emulator";
  const std::string secondary = AccessPolicies::Defaults().Find("service")->secondary_key;
  CHECK(auth.Authorize(Token(upper, SignedWithText(upper, secondary, kNow + 60), kNow + 60), target, kServiceConnect)
            .ok());
}

TEST_CASE("SasAuthenticator: a host-scoped token counts when signed with the decoded key, not its text") {
  auto auth = MakeAuthenticator();
  const std::string audience = "localhost";
  CHECK(auth.Authorize(Token(audience, SignedWithBytes(audience, ServiceKey(), kNow + 60), kNow + 60), "emulator",
                       kServiceConnect)
            .ok());
  CHECK_FALSE(auth.Authorize(Token(audience, SignedWithText(audience, ServiceKey(), kNow + 60), kNow + 60),
                             "emulator", kServiceConnect)
                  .ok());
}

TEST_CASE("SasAuthenticator: an sb:// token is refused without skn, for another host, entity, or expired") {
  auto auth = MakeAuthenticator();
  const std::string audience = "sb://localhost/emulator";
  auto no_skn = auth.Authorize(Token(audience, SignedWithText(audience, ServiceKey(), kNow + 60), kNow + 60,
                                     std::nullopt),
                               "emulator", kAny);
  REQUIRE_FALSE(no_skn.ok());
  CHECK(no_skn.status().message().find("skn") != std::string::npos);

  const std::string elsewhere = "sb://elsewhere.servicebus.windows.net/emulator";
  CHECK_FALSE(auth.Authorize(Token(elsewhere, SignedWithText(elsewhere, ServiceKey(), kNow + 60), kNow + 60),
                             "emulator", kAny)
                  .ok());
  CHECK_FALSE(auth.Authorize(Token(audience, SignedWithText(audience, ServiceKey(), kNow + 60), kNow + 60),
                             "otherhub/ConsumerGroups/$Default", kAny)
                  .ok());
  CHECK_FALSE(
      auth.Authorize(Token(audience, SignedWithText(audience, ServiceKey(), kNow), kNow), "emulator", kAny).ok());
  // A policy without the permission asked for.
  const std::string device_key = AccessPolicies::Defaults().Find("device")->primary_key;
  CHECK_FALSE(auth.Authorize(Token(audience, SignedWithText(audience, device_key, kNow + 60), kNow + 60, "device"),
                             "emulator", kServiceConnect)
                  .ok());
}

}  // namespace iothub
