#include "core/sas_authenticator.h"

#include <algorithm>
#include <cctype>

#include "core/sas_token.h"

namespace iothub {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "localhost:18883" → "localhost"; "[::1]:443" → "::1"; a bare IPv6 literal stays whole.
std::string_view HostWithoutPort(std::string_view host) {
  if (host.starts_with('[')) {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(1, close - 1);
  }
  if (std::count(host.begin(), host.end(), ':') == 1) return host.substr(0, host.find(':'));
  return host;
}

// True when prefix is target or a leading run of its '/'-separated segments.
bool IsSegmentPrefix(std::string_view prefix, std::string_view target) {
  while (prefix.ends_with('/')) prefix.remove_suffix(1);
  if (prefix.empty()) return true;
  if (!target.starts_with(prefix)) return false;
  return target.size() == prefix.size() || target[prefix.size()] == '/';
}

// Drops a leading "sb://" or "amqps://" (any case); true when there was one.
bool StripScheme(std::string_view& resource) {
  for (std::string_view scheme : {"sb://", "amqps://", "amqp://"}) {
    if (resource.size() >= scheme.size() && Lower(resource.substr(0, scheme.size())) == scheme) {
      resource.remove_prefix(scheme.size());
      return true;
    }
  }
  return false;
}

}  // namespace

SasAuthenticator::SasAuthenticator(AccessPolicies policies, std::vector<std::string> host_names,
                                   DeviceKeyLookup device_keys, Now now)
    : policies_(std::move(policies)), device_keys_(std::move(device_keys)), now_(std::move(now)) {
  for (const auto& h : host_names) host_names_.push_back(Lower(HostWithoutPort(h)));
}

bool SasAuthenticator::IsOwnHost(std::string_view host) const {
  std::string h = Lower(HostWithoutPort(host));
  return std::find(host_names_.begin(), host_names_.end(), h) != host_names_.end();
}

Result<Principal> SasAuthenticator::Authorize(std::string_view token_text, std::string_view target,
                                              Permissions any_of) const {
  auto parsed = ParseSasToken(token_text);
  if (!parsed.ok()) return parsed.status();
  const SasToken& token = parsed.value();

  if (token.expiry <= UnixSeconds(now_())) return Status::Unauthorized("SAS token has expired");

  std::string_view resource = token.resource;
  // Event Hubs SDKs scope their tokens to a URI: sb://{host}/{entity}/... (see SasSignatureMatchesKeyText).
  const bool service_bus = StripScheme(resource);
  size_t slash = resource.find('/');
  std::string_view host = resource.substr(0, slash);
  std::string_view scope = slash == std::string_view::npos ? std::string_view() : resource.substr(slash + 1);
  if (!IsOwnHost(host)) {
    return Status::Unauthorized("SAS token is for host '" + std::string(host) + "', not this hub");
  }
  if (!IsSegmentPrefix(scope, target)) {
    return Status::Unauthorized("SAS token resource '" + token.resource + "' does not cover '" +
                                std::string(target) + "'");
  }

  if (service_bus && !token.key_name) return Status::Unauthorized("An sb:// token must name its policy (skn)");
  auto principal =
      token.key_name ? AuthorizePolicy(*token.key_name, token, service_bus) : AuthorizeDevice(scope, token);
  if (!principal.ok()) return principal;
  principal.value().token_expiry = std::min(token.expiry, kLatestTokenExpiry);
  if ((principal->permissions & any_of) == 0) {
    return Status::Unauthorized("'" + principal->name + "' has " + DescribePermissions(principal->permissions) +
                                "; this operation needs " + DescribePermissions(any_of));
  }
  return principal;
}

Result<Principal> SasAuthenticator::AuthorizePolicy(const std::string& policy_name, const SasToken& token,
                                                    bool key_text) const {
  const AccessPolicy* policy = policies_.Find(policy_name);
  if (!policy) return Status::Unauthorized("No shared access policy named '" + policy_name + "'");
  auto matches = [&](const std::string& key) {
    return key_text ? SasSignatureMatchesKeyText(token, key) : SasSignatureMatches(token, key);
  };
  if (!matches(policy->primary_key) && !matches(policy->secondary_key)) {
    return Status::Unauthorized("SAS signature does not match the keys of policy '" + policy_name + "'");
  }
  return Principal{Principal::Kind::kPolicy, policy->name, policy->permissions, 0};
}

Result<Principal> SasAuthenticator::AuthorizeDevice(std::string_view scope, const SasToken& token) const {
  // A device key signs for "devices/{id}" (or a module below it) and grants
  // DeviceConnect for that device only.
  constexpr std::string_view kDevices = "devices/";
  if (!scope.starts_with(kDevices)) {
    return Status::Unauthorized("A token without skn must be scoped to devices/{deviceId}");
  }
  std::string device_id(scope.substr(kDevices.size(), scope.find('/', kDevices.size()) - kDevices.size()));
  auto keys = device_keys_ ? device_keys_(device_id) : std::nullopt;
  if (!keys) return Status::Unauthorized("Device '" + device_id + "' has no symmetric keys in the registry");
  if (!SasSignatureMatches(token, keys->primary_key) && !SasSignatureMatches(token, keys->secondary_key)) {
    return Status::Unauthorized("SAS signature does not match the keys of device '" + device_id + "'");
  }
  if (!keys->enabled) return Status::Unauthorized("Device '" + device_id + "' is disabled");
  return Principal{Principal::Kind::kDevice, device_id, kDeviceConnect, 0};
}

}  // namespace iothub
