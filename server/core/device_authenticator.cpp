#include "core/device_authenticator.h"

namespace iothub {

Result<AuthenticatedDevice> DeviceAuthenticator::Authenticate(const std::string& device_id,
                                                              const std::optional<std::string>& module_id,
                                                              std::string_view token) const {
  if (module_id) return Status::Unauthorized("Module identities are not supported by the emulator yet");
  auto principal = sas_.Authorize(token, "devices/" + device_id, kDeviceConnect);
  if (!principal.ok()) return principal.status();
  return Admit(device_id, principal.value());
}

Result<AuthenticatedDevice> DeviceAuthenticator::Admit(const std::string& device_id, const Principal& principal) const {
  if (!(principal.permissions & kDeviceConnect)) {
    return Status::Unauthorized("'" + principal.name + "' does not have DeviceConnect");
  }
  if (principal.kind == Principal::Kind::kDevice && principal.name != device_id) {
    return Status::Unauthorized("A token of device '" + principal.name + "' does not sign in device '" + device_id + "'");
  }
  // A policy token names no device, so the device is looked up here; a device
  // token was already checked against the device's own keys.
  auto device = registry_.Get(device_id);
  if (!device.ok()) return Status::Unauthorized("Device '" + device_id + "' is not in the registry");
  if (device->status != DeviceStatus::kEnabled) return Status::Unauthorized("Device '" + device_id + "' is disabled");

  const char* scope = principal.kind == Principal::Kind::kDevice ? "device" : "hub";
  return AuthenticatedDevice{
      device_id, device->generation_id,
      std::string(R"({"scope":")") + scope + R"(","type":"sas","issuer":"iothub","acceptingIpFilterRule":null})",
      principal.token_expiry};
}

}  // namespace iothub
