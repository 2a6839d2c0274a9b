// Signs a device in to a device endpoint (MQTT today): its SAS token must be
// signed by one of the device's keys, or by a hub policy with DeviceConnect, for
// this device; the device must exist and be enabled.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/registry.h"
#include "core/sas_authenticator.h"

namespace iothub {

struct AuthenticatedDevice {
  std::string device_id;
  std::string generation_id;
  // The iothub-connection-auth-method annotation of its messages.
  std::string auth_method;
  int64_t token_expiry = 0;  // seconds since the Unix epoch; the connection ends then
};

class DeviceAuthenticator {
 public:
  DeviceAuthenticator(const SasAuthenticator& sas, Registry& registry) : sas_(sas), registry_(registry) {}

  // module_id: modules are not in the registry yet, so a module is refused.
  Result<AuthenticatedDevice> Authenticate(const std::string& device_id, const std::optional<std::string>& module_id,
                                           std::string_view token) const;
  // A device whose token was checked already (AMQP: a $cbs claim or SASL PLAIN): `principal` is the
  // device itself or a policy with DeviceConnect. The device must exist and be enabled, as above.
  Result<AuthenticatedDevice> Admit(const std::string& device_id, const Principal& principal) const;

 private:
  const SasAuthenticator& sas_;
  Registry& registry_;
};

}  // namespace iothub
