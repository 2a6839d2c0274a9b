// A device identity in the registry (spec §4.3) and the rules for its fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/time_format.h"

namespace iothub {

enum class DeviceStatus { kEnabled, kDisabled };
enum class AuthType { kSas, kSelfSigned, kCertificateAuthority, kNone };

const char* ToString(DeviceStatus status);  // "enabled"
const char* ToString(AuthType type);        // "sas", "selfSigned", ...
std::optional<DeviceStatus> ParseDeviceStatus(std::string_view text);
std::optional<AuthType> ParseAuthType(std::string_view text);

struct Device {
  std::string device_id;
  std::string generation_id;  // new for every (re-)creation of the id
  int64_t version = 1;        // bumped by every write; the etag is derived from it
  DeviceStatus status = DeviceStatus::kEnabled;
  std::optional<std::string> status_reason;
  TimePoint status_updated_time = kNever;
  AuthType auth_type = AuthType::kSas;
  std::optional<std::string> primary_key, secondary_key;                // base64, for kSas
  std::optional<std::string> primary_thumbprint, secondary_thumbprint;  // hex, for kSelfSigned
  bool iot_edge = false;
  // An Edge device's own scope (EdgeScopeOf), or a leaf device's parent Edge scope.
  std::optional<std::string> device_scope;
  // The Edge devices above: a leaf's [device_scope]; an Edge device's parent, set by the client.
  std::vector<std::string> parent_scopes;
  bool connected = false;
  TimePoint connection_state_updated_time = kNever;
  TimePoint last_activity_time = kNever;
  int64_t cloud_to_device_message_count = 0;

  // IoT Hub's etag: base64 of a counter, e.g. "MQ==" for 1. Unquoted.
  std::string etag() const;
};

// What a client may set on a device; everything else is the hub's to decide.
// Absent fields keep their current value on update (keys: are generated on create).
struct DeviceSpec {
  std::string device_id;
  std::optional<DeviceStatus> status;
  std::optional<std::string> status_reason;
  std::optional<AuthType> auth_type;
  std::optional<std::string> primary_key, secondary_key;
  std::optional<std::string> primary_thumbprint, secondary_thumbprint;
  std::optional<bool> iot_edge;
  std::optional<std::string> device_scope;  // a leaf's parent Edge scope ("" for none); ignored for Edge devices
  std::optional<std::vector<std::string>> parent_scopes;  // an Edge device's parents; ignored for leaf devices
};

// IoT Edge scopes (learn.microsoft.com, .NET Device.Scope): an Edge device's scope is
// "ms-azure-iot-edge://{deviceId}-{generationId}", made by the hub, so a re-created
// device has a new one. Children name their parent by its scope.
std::string EdgeScopeOf(std::string_view device_id, std::string_view generation_id);
// The device id in an Edge scope (text between the prefix and the last '-'); nullopt when it is not one.
std::optional<std::string> DeviceIdInEdgeScope(std::string_view scope);
// What IoT Hub derives rather than stores as given: an Edge device's own scope, and a leaf
// device's parentScopes, which is its deviceScope or nothing.
void DeriveScopes(Device& device);

// IoT Hub's device-id rule: 1–128 ASCII characters, letters, digits and - . % _ * ? ! ( ) , : = @ $ '
Status ValidateDeviceId(std::string_view id);
// Keys must be base64 of 16 to 64 bytes.
Status ValidateSymmetricKey(std::string_view name, std::string_view key);
// Thumbprints are 40 (SHA-1) or 64 (SHA-256) hex digits.
Status ValidateThumbprint(std::string_view name, std::string_view thumbprint);

}  // namespace iothub
