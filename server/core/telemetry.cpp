#include "core/telemetry.h"

namespace iothub {

Event MakeTelemetryEvent(const ConnectionInfo& connection, TelemetryMessage message, const char* message_source) {
  Event e;
  e.body = std::move(message.body);
  e.properties = std::move(message.properties);
  e.application_properties = std::move(message.application_properties);
  if (message.creation_time) e.application_properties.emplace_back("iothub-creation-time-utc", *message.creation_time);

  e.annotations = {
      {"iothub-connection-device-id", connection.device.device_id},
      {"iothub-connection-auth-method", connection.device.auth_method},
      {"iothub-connection-auth-generation-id", connection.device.generation_id},
      {"iothub-message-source", message_source},
  };
  if (connection.module_id) e.annotations.emplace_back("iothub-connection-module-id", *connection.module_id);
  if (connection.model_id) e.annotations.emplace_back("dt-dataschema", *connection.model_id);
  if (message.component) e.annotations.emplace_back("dt-subject", *message.component);
  if (message.interface_id) e.annotations.emplace_back("iothub-interface-id", *message.interface_id);
  return e;
}

}  // namespace iothub
