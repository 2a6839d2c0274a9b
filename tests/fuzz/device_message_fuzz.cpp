// A device's AMQP messages (server/amqp/device_message.h), outside input from any device
// on its links: DecodeDeviceMessage on arbitrary bytes, then what the links make of a
// decoded message (telemetry, a twin request, a method answer). Properties: no crash or
// exception; a refusal is FormatError or ArgumentInvalid; an id sent back in a twin answer
// decodes to the same id, of the same type; a cloud-to-device message made of the decoded
// fields decodes to them again; the twin and method parsers refuse only with ArgumentInvalid.
// Seeds: corpus/device_message_fuzz, what azure-iot-device-amqp 1.14.4 encodes (rhea).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "amqp/device_message.h"
#include "fuzz_check.h"

namespace {

using namespace iothub;
using namespace iothub::amqp;
using fuzz::Check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto decoded = DecodeDeviceMessage(input);
  if (!decoded.ok()) {
    const ErrorCode code = decoded.status().code();
    Check(code == ErrorCode::kIotHubFormatError || code == ErrorCode::kArgumentInvalid,
          "a refusal is FormatError or ArgumentInvalid");
    return 0;
  }
  const DeviceMessage& m = decoded.value();

  // The correlation-id goes back in a twin answer exactly as it came.
  auto answer = DecodeDeviceMessage(EncodeTwinAnswer(m.correlation_id, 200, 1, m.body));
  Check(answer.ok(), "a twin answer decodes");
  Check(answer->correlation_id == m.correlation_id, "the correlation-id comes back, of the same type");
  Check(answer->body == m.body, "the body comes back");
  const std::string* status = answer->Annotation("status");
  Check(status && *status == "200", "the status annotation comes back");

  // Telemetry: what the event log would keep; sent back to a device it reads the same.
  TelemetryMessage t = ToTelemetry(m);
  CloudToDeviceMessage c;
  c.device_id = "d1";
  c.body = t.body;
  c.properties = t.properties;
  c.application_properties = t.application_properties;
  c.delivery_count = 1;
  auto again = DecodeDeviceMessage(EncodeCloudToDevice(c));
  Check(again.ok(), "a cloud-to-device message decodes");
  Check(again->body == t.body, "its body");
  Check((again->message_id ? std::optional(again->message_id->text) : std::nullopt) == t.properties.message_id,
        "its message-id");
  Check((again->correlation_id ? std::optional(again->correlation_id->text) : std::nullopt) ==
            t.properties.correlation_id,
        "its correlation-id");
  Check(again->content_type == t.properties.content_type, "its content type");
  Check(again->content_encoding == t.properties.content_encoding, "its content encoding");
  Check(again->user_id == t.properties.user_id, "its user-id");
  Check(again->application_properties == t.application_properties, "its application properties, in order");

  auto twin = ParseTwinRequest(m);
  Check(twin.ok() || twin.status().code() == ErrorCode::kArgumentInvalid, "a twin request refusal is ArgumentInvalid");
  auto method = ParseMethodAnswer(m);
  Check(method.ok() || method.status().code() == ErrorCode::kArgumentInvalid,
        "a method answer refusal is ArgumentInvalid");
  return 0;
}
