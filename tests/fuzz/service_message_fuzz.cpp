// A back end's cloud-to-device message as the hub decodes it from /messages/devicebound
// (DecodeServiceMessage: Proton's C codec over the delivery's bytes), and its `to` alone.
// Properties: no crash, leak or exception; a decoded message names a device (the one its
// `to` names), has an ack the queue knows, and no application property posing as an MQTT
// system property; a refusal is ArgumentInvalid with a reason.
// Seeds: tests/fuzz/corpus/service_message_fuzz: what azure-iothub sends (its AmqpMessage.fromMessage,
// encoded by rhea), and a message with an amqp-value body, no `to` and a bad ack.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "amqp/service_message.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace iothub;
  using fuzz::Check;
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto m = amqp::DecodeServiceMessage(input);
  if (m.ok()) {
    Check(!m->device_id.empty(), "a decoded message names its device");
    Check(m->ack == "none" || m->ack == "positive" || m->ack == "negative" || m->ack == "full",
          "a decoded message's ack is one the queue knows");
    for (const auto& [key, value] : m->application_properties) {
      Check(!key.starts_with("$."), "no application property poses as a system property");
    }
  } else {
    Check(m.status().code() == ErrorCode::kArgumentInvalid, "a refusal is ArgumentInvalid");
    Check(!m.status().message().empty(), "a refusal says why");
  }

  if (auto id = amqp::DeviceIdOfAddress(input)) {
    Check(!id->empty(), "an address names a device");
    Check(id->find('\0') == std::string::npos || input.find("%00") != std::string_view::npos,
          "a device id holds only what its address encodes");
  }
  return 0;
}
