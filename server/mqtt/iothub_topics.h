// IoT Hub's MQTT conventions (spec §2.2–2.5): the CONNECT user name, the topics a
// device may publish and subscribe to, and the URL-encoded property bags.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/cloud_to_device.h"
#include "core/device_subscriptions.h"
#include "core/telemetry.h"

namespace iothub::mqtt {

// "{host}/{deviceId}[/{moduleId}]/?api-version=...&model-id=..." and the older
// "{host}/{deviceId}/api-version=..." form.
struct Username {
  std::string host;
  std::string device_id;
  std::optional<std::string> module_id;
  std::optional<std::string> model_id;
};
std::optional<Username> ParseUsername(std::string_view username);

// "{deviceId}" or "{deviceId}/{moduleId}": what the ClientId must be for this identity.
std::string ClientIdOf(const Username& username);

// devices/{deviceId}/messages/events/[{property_bag}]: the telemetry of that
// device, decoded; nullopt for any other topic. A malformed bag is an error.
struct TelemetryTopic {
  TelemetryMessage message;  // without the body
};
std::optional<Result<TelemetryTopic>> ParseTelemetryTopic(std::string_view topic, std::string_view device_id);

// The feed a device's SUBSCRIBE topic filter asks for; nullopt for a filter IoT Hub does not offer it.
std::optional<Feed> FeedOfFilter(std::string_view filter, std::string_view device_id);

// devices/{id}/messages/devicebound/{bag}: %24.mid, %24.to, %24.cid, %24.uid, %24.ct,
// %24.ce and the application properties, every key and value URL-encoded, no bare keys (spec §2.4).
std::string CloudToDeviceTopic(const CloudToDeviceMessage& message);

// "k1=v1&k2=v2", keys and values URL-decoded ('+' stays '+'). nullopt on a broken escape.
std::optional<Properties> DecodePropertyBag(std::string_view bag);

}  // namespace iothub::mqtt
