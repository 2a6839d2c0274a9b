// The messages on a device's own AMQP links (azure-iot-device-amqp; spec Appendix A),
// decoded and encoded with Proton's C codec: what a device sends (telemetry, twin
// requests, method answers) and what the hub sends it (cloud-to-device messages,
// method requests, twin answers and desired-property patches).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/cloud_to_device.h"
#include "core/event.h"
#include "core/status.h"
#include "core/telemetry.h"

namespace iothub::amqp {

// A message-id or correlation-id as AMQP carries it: its text and its type, so that an
// answer can carry it back exactly as it came (the SDKs compare them by type and value).
struct AmqpId {
  enum class Type { kString, kUuid, kUlong, kBinary };
  Type type = Type::kString;
  std::string text;  // a uuid as 8-4-4-4-12 lower-case hex; a ulong in decimal; binary as its bytes
  bool operator==(const AmqpId&) const = default;
};

// A message from a device, every value as text (numbers in decimal, timestamps in ISO 8601).
struct DeviceMessage {
  std::string body;  // the data sections, concatenated (or a string/binary amqp-value)
  std::optional<AmqpId> message_id;
  std::optional<AmqpId> correlation_id;
  std::optional<std::string> user_id;
  std::optional<std::string> to;
  std::optional<std::string> content_type;
  std::optional<std::string> content_encoding;
  std::optional<std::string> absolute_expiry_time;
  Properties application_properties;  // null values left out
  Properties annotations;             // message annotations
  const std::string* Annotation(std::string_view name) const;
  const std::string* ApplicationProperty(std::string_view name) const;
};

// FormatError when the bytes are not an AMQP message; ArgumentInvalid when a text in it is not UTF-8.
Result<DeviceMessage> DecodeDeviceMessage(std::string_view bytes);

// Telemetry as the event log keeps it, the same whichever protocol sent it: dt-subject and
// iothub-interface-id annotations as MQTT's $.sub and $.ifid, iothub-creation-time-utc as $.ctime.
TelemetryMessage ToTelemetry(DeviceMessage message);

// A request on the twin link: the `operation` annotation (and `resource`).
struct TwinRequest {
  enum class Operation { kGet, kPatchReported, kSubscribeDesired, kUnsubscribeDesired };
  Operation operation = Operation::kGet;
  std::optional<AmqpId> correlation_id;
  std::string body;
};
// ArgumentInvalid for an operation/resource pair the hub does not serve.
Result<TwinRequest> ParseTwinRequest(DeviceMessage message);

// A device's answer to a method request: the request's id as correlation-id, IoThub-status, the payload.
struct MethodAnswer {
  std::string request_id;
  int status = 0;
  std::string payload;
};
// ArgumentInvalid when the correlation-id or an integer IoThub-status is missing.
Result<MethodAnswer> ParseMethodAnswer(DeviceMessage message);

// Cloud-to-device, as AmqpMessage.toMessage reads it: message-id, to, correlation-id, user-id,
// content type and encoding, absolute-expiry-time, the application properties (and iothub-ack),
// the delivery count in the header.
std::string EncodeCloudToDevice(const CloudToDeviceMessage& message);
// A method request: IoThub-methodname, the request id as correlation-id, the JSON payload as data.
std::string EncodeMethodRequest(std::string_view method_name, std::string_view request_id,
                                std::string_view payload_json);
// The answer to a twin request: `status` (and `version`) annotations, the request's correlation-id, the body.
std::string EncodeTwinAnswer(const std::optional<AmqpId>& correlation_id, int status, std::optional<int64_t> version,
                             std::string_view body);
// A desired-properties patch (JSON with "$version"): no correlation-id, which is how the SDK tells it from an answer.
std::string EncodeDesiredPatch(int64_t version, std::string_view patch_json);

}  // namespace iothub::amqp
