// Turns what a device sent into the event the log keeps: the device's message
// plus the annotations IoT Hub adds (spec §6.5).
#pragma once

#include <optional>
#include <string>

#include "core/device_authenticator.h"
#include "core/event.h"

namespace iothub {

// A device-to-cloud message as the device sent it, whatever the protocol.
struct TelemetryMessage {
  std::string body;
  SystemProperties properties;
  Properties application_properties;
  std::optional<std::string> component;      // $.sub → dt-subject
  std::optional<std::string> interface_id;   // $.ifid → iothub-interface-id
  std::optional<std::string> creation_time;  // $.ctime → application property iothub-creation-time-utc
};

// What the hub knows of the sending connection, whatever its protocol.
struct ConnectionInfo {
  AuthenticatedDevice device;
  // The IoT Plug and Play model the device announced as it signed in → dt-dataschema.
  // Each protocol carries it its own way (MQTT: the user name's model-id).
  std::optional<std::string> model_id;
  // A module's connection: its id (modules are refused at sign-in until the registry has them).
  std::optional<std::string> module_id;
};

// message_source: "Telemetry", or another IoT Hub source name.
Event MakeTelemetryEvent(const ConnectionInfo& connection, TelemetryMessage message,
                         const char* message_source = "Telemetry");

}  // namespace iothub
