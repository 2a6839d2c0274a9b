// The MQTT codec on arbitrary bytes: Decode() must answer packet, need-more or
// malformed without crashing, and every packet it accepts must survive
// Encode() then Decode() unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>

#include "fuzz_check.h"
#include "mqtt/codec/mqtt_codec.h"

namespace {

using namespace iothub::mqtt;
using iothub::fuzz::Check;

// A packet type's fields as a tuple, so two packets compare member by member.
auto Fields(const Will& w) { return std::make_tuple(w.topic, w.payload, w.qos, w.retain); }
auto Fields(const Connect& c) {
  std::optional<decltype(Fields(*c.will))> will;
  if (c.will) will = Fields(*c.will);
  return std::make_tuple(c.protocol_name, c.protocol_level, c.clean_session, c.keep_alive_seconds, c.client_id, will,
                         c.username, c.password);
}
auto Fields(const Connack& c) { return std::tie(c.session_present, c.return_code); }
auto Fields(const Publish& p) { return std::tie(p.topic, p.payload, p.qos, p.retain, p.dup, p.packet_id); }
auto Fields(const Puback& p) { return std::tie(p.packet_id); }
auto Fields(const Subscribe& s) { return std::tie(s.packet_id, s.filters); }
auto Fields(const Suback& s) { return std::tie(s.packet_id, s.return_codes); }
auto Fields(const Unsubscribe& u) { return std::tie(u.packet_id, u.filters); }
auto Fields(const Unsuback& u) { return std::tie(u.packet_id); }
auto Fields(const Pingreq&) { return std::tuple<>(); }
auto Fields(const Pingresp&) { return std::tuple<>(); }
auto Fields(const Disconnect&) { return std::tuple<>(); }

bool SamePacket(const Packet& a, const Packet& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        return Fields(x) == Fields(std::get<T>(b));
      },
      a);
}

// The session's limit (256 KiB of telemetry plus headers) is larger than any input here.
constexpr size_t kMaxPacketBytes = 1 << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Decode packets one after another, as the session does with what it read.
  while (!input.empty()) {
    DecodeResult result = Decode(input, kMaxPacketBytes);
    if (auto* more = std::get_if<NeedMore>(&result)) {
      Check(more->at_least == 0 || more->at_least > input.size(), "NeedMore asks for no more than it has");
      // Any prefix of an incomplete packet is incomplete too (or already malformed).
      auto shorter = Decode(input.substr(0, input.size() - 1), kMaxPacketBytes);
      Check(!std::holds_alternative<Decoded>(shorter), "a prefix of an incomplete packet decodes");
      break;
    }
    if (std::holds_alternative<Malformed>(result)) {
      Check(!std::get<Malformed>(result).reason.empty(), "Malformed gives a reason");
      break;
    }
    const Decoded& decoded = std::get<Decoded>(result);
    Check(decoded.consumed > 0 && decoded.consumed <= input.size(), "consumed is within the input");

    const std::string wire = Encode(decoded.packet);
    DecodeResult again = Decode(wire, kMaxPacketBytes);
    Check(std::holds_alternative<Decoded>(again), "an encoded packet decodes");
    const Decoded& round = std::get<Decoded>(again);
    Check(round.consumed == wire.size(), "an encoded packet is consumed whole");
    Check(SamePacket(decoded.packet, round.packet), "decode(encode(p)) == p");
    Check(Encode(round.packet) == wire, "encoding is deterministic");
    // Our encoding is the canonical one: at most as long as what was decoded.
    Check(wire.size() <= decoded.consumed, "the encoding is no longer than the input");

    input.remove_prefix(decoded.consumed);
  }
  return 0;
}
