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
