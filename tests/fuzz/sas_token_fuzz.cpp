// SAS tokens as they arrive in an Authorization header or an MQTT password:
// parsing, and the authenticator's whole decision (host, scope, policy or device
// key, expiry), for IoT Hub tokens and Event Hubs ones (sr=sb://..., signed with the
// key's text). A token we create must parse back and be accepted.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/access_policy.h"
#include "core/sas_authenticator.h"
#include "core/sas_token.h"
#include "fuzz_check.h"

namespace {

using namespace iothub;
using fuzz::Check;

constexpr std::string_view kDeviceKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr int64_t kNow = 1'800'000'000;  // 2027-01-15

const AccessPolicies& Policies() {
  static const AccessPolicies* policies = new AccessPolicies(AccessPolicies::Defaults());
  return *policies;
}

const SasAuthenticator& Authenticator() {
  static const SasAuthenticator authenticator(
      AccessPolicies::Defaults(), {"localhost", "myhub.azure-devices.net:8883", "[::1]:443"},
      [](const std::string& id) -> std::optional<DeviceKeys> {
        if (id != "dev1" && id != "myFirstNodeDevice") return std::nullopt;
        return DeviceKeys{std::string(kDeviceKey), std::string(kDeviceKey), id == "dev1"};
      },
      [] { return TimePoint(std::chrono::seconds(kNow)); });
  return authenticator;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr Permissions kAll = kRegistryRead | kRegistryWrite | kServiceConnect | kDeviceConnect;

  auto token = ParseSasToken(input);
  if (token.ok()) {
    Check(input.starts_with("SharedAccessSignature "), "a token starts with its scheme");
    // Re-signing what was parsed with a known key gives a token that parses to the same fields.
    const std::string made = CreateSasToken(token->resource, kDeviceKey, token->expiry, token->key_name);
    auto again = ParseSasToken(made);
    Check(again.ok(), "a created token parses");
    Check(again->resource == token->resource && again->expiry == token->expiry && again->key_name == token->key_name,
          "a created token keeps resource, expiry and key name");
    Check(SasSignatureMatches(*again, kDeviceKey), "a created token's signature matches its key");
  }

  for (std::string_view target : {"devices/dev1", "devices/dev1/modules/m1", "twins/dev1", "devices", "",
                                   "emulator/ConsumerGroups/$Default/Partitions/0"}) {
    auto principal = Authenticator().Authorize(input, target, kAll);
    if (principal.ok()) {
      Check(token.ok(), "only a parsed token is accepted");
      Check(principal->token_expiry > kNow, "an accepted token has not expired");
      if (token->resource.find("://") != std::string::npos) {
        // Event Hubs tokens (sr=sb://...) speak for a policy, signed with its key's text.
        const AccessPolicy* policy = Policies().Find(principal->name);
        Check(principal->kind == Principal::Kind::kPolicy && policy, "an sb:// token speaks for a policy");
        Check(SasSignatureMatchesKeyText(*token, policy->primary_key) ||
                  SasSignatureMatchesKeyText(*token, policy->secondary_key),
              "an sb:// token is signed with its policy's key text");
      }
    } else {
      Check(principal.status().code() == ErrorCode::kIotHubUnauthorizedAccess, "every refusal is Unauthorized");
    }
  }
  return 0;
}
