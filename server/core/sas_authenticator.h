// Decides whether a SAS token grants a permission on a resource (spec §1.2–1.4).
// Two authenticators in a chain: a token with `skn` is judged against the hub's
// policies, one without against the keys of the device its `sr` names.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/access_policy.h"
#include "core/sas_token.h"
#include "core/status.h"
#include "core/time_format.h"

namespace iothub {

struct Principal {
  enum class Kind { kPolicy, kDevice };
  Kind kind = Kind::kPolicy;
  std::string name;  // the policy name, or the device id
  Permissions permissions = 0;
  // The token's `se`, capped at kLatestTokenExpiry so that callers can make it
  // a Clock time point without overflow.
  int64_t token_expiry = 0;
};

// 2200-01-01T00:00:00Z. A nanosecond system_clock ends in 2262; tokens made to
// "never expire" (se = 9999999999, or the largest integer) lie beyond it.
inline constexpr int64_t kLatestTokenExpiry = 7'258'118'400;

// What the device authenticator needs to know of a device.
struct DeviceKeys {
  std::string primary_key;
  std::string secondary_key;
  bool enabled = true;
};

class SasAuthenticator {
 public:
  using DeviceKeyLookup = std::function<std::optional<DeviceKeys>(const std::string& device_id)>;
  using Now = std::function<TimePoint()>;

  // host_names: names the hub answers to; a token's `sr` host must be one of them
  // (case-insensitive, port ignored). Thread-safe once built; the lookup must be too.
  SasAuthenticator(AccessPolicies policies, std::vector<std::string> host_names, DeviceKeyLookup device_keys,
                   Now now = [] { return Clock::now(); });

  // target: the resource below the host, e.g. "devices/dev1". A token's `sr` may also be an
  // Event Hubs URI, sb://{host}/{entity}/..., signed as those SDKs sign. Allowed when the
  // token is valid, unexpired, scoped to a segment prefix of target and carries
  // at least one of `any_of` permissions. Every refusal is Unauthorized.
  Result<Principal> Authorize(std::string_view token_text, std::string_view target, Permissions any_of) const;

  const AccessPolicies& policies() const { return policies_; }
  // True when host (port ignored) is one of the hub's names, case-insensitively.
  bool IsOwnHost(std::string_view host) const;

 private:
  // key_text: signed with the key's text (Event Hubs tokens), not its decoded bytes.
  Result<Principal> AuthorizePolicy(const std::string& policy_name, const SasToken& token, bool key_text) const;
  Result<Principal> AuthorizeDevice(std::string_view scope, const SasToken& token) const;

  AccessPolicies policies_;
  std::vector<std::string> host_names_;  // lower-case, without port
  DeviceKeyLookup device_keys_;
  Now now_;
};

}  // namespace iothub
