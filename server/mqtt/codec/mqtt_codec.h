// MQTT 3.1.1 encoding and decoding. No sockets: bytes in, a packet, "need more"
// or "malformed" out, so the I/O layer and the unit tests feed it the same way.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "mqtt/codec/packets.h"

namespace iothub::mqtt {

struct Decoded {
  Packet packet;
  size_t consumed = 0;  // bytes of input this packet took
};
struct NeedMore {
  size_t at_least = 0;  // total bytes the packet needs, when known (0 = unknown yet)
};
struct Malformed {
  std::string reason;
};
using DecodeResult = std::variant<Decoded, NeedMore, Malformed>;

// Decodes the first packet in `input`. A packet whose total size exceeds
// max_packet_bytes is Malformed as soon as its length is known. PUBREC, PUBREL
// and PUBCOMP (QoS 2) are Malformed: IoT Hub does not speak QoS 2.
DecodeResult Decode(std::string_view input, size_t max_packet_bytes);

// The wire bytes of a packet.
std::string Encode(const Packet& packet);

// MQTT's string rule (1.5.3): well-formed UTF-8, no U+0000, no surrogates.
bool IsValidMqttUtf8(std::string_view text);

}  // namespace iothub::mqtt
