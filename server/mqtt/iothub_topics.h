// IoT Hub's MQTT conventions (spec §2.2–2.5): the CONNECT user name, the topics a
// device may publish and subscribe to, and the URL-encoded property bags.
#pragma once

#include <cstdint>
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

// $iothub/twin/GET/?$rid={rid} and $iothub/twin/PATCH/properties/reported/?$rid={rid}; nullopt for other topics.
struct TwinRequestTopic {
  bool get = true;  // false: a reported-properties patch
  std::string request_id;
};
std::optional<TwinRequestTopic> ParseTwinRequestTopic(std::string_view topic);
// $iothub/twin/res/{status}/?$rid={rid}[&$version={version}]
std::string TwinResponseTopic(int status, std::string_view request_id, std::optional<int64_t> version);

// $iothub/methods/res/{status}/?$rid={rid}: a device's answer to a method request; nullopt for other topics.
struct MethodResponseTopic {
  int status = 0;
  std::string request_id;
};
std::optional<MethodResponseTopic> ParseMethodResponseTopic(std::string_view topic);
// $iothub/methods/POST/{method}/?$rid={rid}
std::string MethodRequestTopic(std::string_view method_name, std::string_view request_id);
// $iothub/twin/PATCH/properties/desired/?$version={version}
std::string DesiredPropertiesTopic(int64_t version);

// "k1=v1&k2=v2", keys and values URL-decoded ('+' stays '+'). nullopt on a broken escape.
std::optional<Properties> DecodePropertyBag(std::string_view bag);

}  // namespace iothub::mqtt
