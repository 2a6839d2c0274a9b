#include "core/device.h"

#include <algorithm>
#include <cctype>

#include "core/crypto.h"

namespace iothub {

const char* ToString(DeviceStatus status) { return status == DeviceStatus::kEnabled ? "enabled" : "disabled"; }

const char* ToString(AuthType type) {
  switch (type) {
    case AuthType::kSas: return "sas";
    case AuthType::kSelfSigned: return "selfSigned";
    case AuthType::kCertificateAuthority: return "certificateAuthority";
    case AuthType::kNone: return "none";
  }
  return "sas";
}

std::optional<DeviceStatus> ParseDeviceStatus(std::string_view text) {
  if (text == "enabled") return DeviceStatus::kEnabled;
  if (text == "disabled") return DeviceStatus::kDisabled;
  return std::nullopt;
}

std::optional<AuthType> ParseAuthType(std::string_view text) {
  for (AuthType t : {AuthType::kSas, AuthType::kSelfSigned, AuthType::kCertificateAuthority, AuthType::kNone}) {
    if (text == ToString(t)) return t;
  }
  return std::nullopt;
}

namespace {
constexpr std::string_view kEdgeScopePrefix = "ms-azure-iot-edge://";
}  // namespace

std::string EdgeScopeOf(std::string_view device_id, std::string_view generation_id) {
  return std::string(kEdgeScopePrefix).append(device_id).append("-").append(generation_id);
}

std::optional<std::string> DeviceIdInEdgeScope(std::string_view scope) {
  if (!scope.starts_with(kEdgeScopePrefix)) return std::nullopt;
  scope.remove_prefix(kEdgeScopePrefix.size());
  // Device ids may contain '-'; generation ids are digits, so the last '-' separates them.
  const size_t dash = scope.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  return std::string(scope.substr(0, dash));
}

void DeriveScopes(Device& device) {
  if (device.iot_edge) {
    device.device_scope = EdgeScopeOf(device.device_id, device.generation_id);
  } else if (device.device_scope && !device.device_scope->empty()) {
    device.parent_scopes = {*device.device_scope};
  } else {
    device.device_scope.reset();
    device.parent_scopes.clear();
  }
}

std::string Device::etag() const { return crypto::Base64Encode(std::to_string(version)); }

Status ValidateDeviceId(std::string_view id) {
  constexpr std::string_view kSpecial = "-.%_*?!(),:=@$'";
  if (id.empty() || id.size() > 128) {
    return Status::ArgumentInvalid("Device id must be 1 to 128 characters long");
  }
  for (unsigned char c : id) {
    if (c >= 0x80 || !(std::isalnum(c) || kSpecial.find(static_cast<char>(c)) != std::string_view::npos)) {
      return Status::ArgumentInvalid("Device id '" + std::string(id) +
                                     "' is invalid: use ASCII letters, digits and - . % _ * ? ! ( ) , : = @ $ '");
    }
  }
  return Status::Ok();
}

Status ValidateSymmetricKey(std::string_view name, std::string_view key) {
  auto bytes = crypto::Base64Decode(key);
  if (!bytes || bytes->size() < 16 || bytes->size() > 64) {
    return Status::ArgumentInvalid("The " + std::string(name) +
                                   " must be valid base64 of 16 to 64 bytes (e.g. 32 random bytes)");
  }
  return Status::Ok();
}

Status ValidateThumbprint(std::string_view name, std::string_view thumbprint) {
  bool hex = !thumbprint.empty() && std::all_of(thumbprint.begin(), thumbprint.end(),
                                                [](unsigned char c) { return std::isxdigit(c) != 0; });
  if (!hex || (thumbprint.size() != 40 && thumbprint.size() != 64)) {
    return Status::ArgumentInvalid("The " + std::string(name) + " must be 40 or 64 hexadecimal digits");
  }
  return Status::Ok();
}

}  // namespace iothub
