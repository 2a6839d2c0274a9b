#include "mqtt/codec/mqtt_codec.h"

namespace iothub::mqtt {
namespace {

// Reads a packet's variable header and payload, remembering the first problem.
class Reader {
 public:
  explicit Reader(std::string_view body) : body_(body) {}

  uint8_t U8() {
    if (!Need(1)) return 0;
    return static_cast<uint8_t>(body_[pos_++]);
  }
  uint16_t U16() {
    if (!Need(2)) return 0;
    uint16_t v = static_cast<uint16_t>(static_cast<uint8_t>(body_[pos_]) << 8 | static_cast<uint8_t>(body_[pos_ + 1]));
    pos_ += 2;
    return v;
  }
  std::string Binary() {
    uint16_t length = U16();
    if (!Need(length)) return {};
    std::string out(body_.substr(pos_, length));
    pos_ += length;
    return out;
  }
  std::string Text(const char* what) {
    std::string s = Binary();
    if (ok() && !IsValidMqttUtf8(s)) Fail(std::string(what) + " is not valid UTF-8");
    return s;
  }
  std::string Rest() {
    std::string out(body_.substr(pos_));
    pos_ = body_.size();
    return out;
  }
  bool AtEnd() const { return pos_ == body_.size(); }
  bool ok() const { return error_.empty(); }
  void Fail(std::string reason) {
    if (error_.empty()) error_ = std::move(reason);
  }
  const std::string& error() const { return error_; }

 private:
  bool Need(size_t n) {
    if (!ok()) return false;
    if (body_.size() - pos_ < n) {
      Fail("packet ends early");
      return false;
    }
    return true;
  }

  std::string_view body_;
  size_t pos_ = 0;
  std::string error_;
};

bool HasWildcard(std::string_view topic) { return topic.find_first_of("+#") != std::string_view::npos; }

Packet DecodeConnect(Reader& r) {
  Connect c;
  c.protocol_name = r.Text("protocol name");
  c.protocol_level = r.U8();
  if (r.ok() && c.protocol_name != "MQTT" && c.protocol_name != "MQIsdp") r.Fail("unknown protocol " + c.protocol_name);
  uint8_t flags = r.U8();
  if (flags & 0x01) r.Fail("reserved CONNECT flag is set");
  c.clean_session = flags & 0x02;
  const bool will = flags & 0x04;
  const uint8_t will_qos = (flags >> 3) & 0x03;
  const bool will_retain = flags & 0x20;
  const bool has_password = flags & 0x40;
  const bool has_username = flags & 0x80;
  if (will_qos == 3) r.Fail("will QoS 3");
  if (!will && (will_qos != 0 || will_retain)) r.Fail("will QoS or retain without a will");
  if (has_password && !has_username) r.Fail("password without user name");
  c.keep_alive_seconds = r.U16();
  c.client_id = r.Text("client id");
  if (will) {
    Will w;
    w.topic = r.Text("will topic");
    if (r.ok() && (w.topic.empty() || HasWildcard(w.topic))) r.Fail("invalid will topic");
    w.payload = r.Binary();
    w.qos = will_qos;
    w.retain = will_retain;
    c.will = std::move(w);
  }
  if (has_username) c.username = r.Text("user name");
  if (has_password) c.password = r.Binary();
  return c;
}

Packet DecodePublish(Reader& r, uint8_t flags) {
  Publish p;
  p.retain = flags & 0x01;
  p.qos = (flags >> 1) & 0x03;
  p.dup = flags & 0x08;
  if (p.qos == 3) r.Fail("PUBLISH with QoS 3");
  if (p.qos == 0 && p.dup) r.Fail("DUP set on a QoS 0 PUBLISH");
  p.topic = r.Text("topic");
  if (r.ok() && (p.topic.empty() || HasWildcard(p.topic))) r.Fail("invalid topic name '" + p.topic + "'");
  if (p.qos > 0) {
    p.packet_id = r.U16();
    if (r.ok() && p.packet_id == 0) r.Fail("packet identifier 0");
  }
  p.payload = r.Rest();
  return p;
}

Packet DecodeSubscribe(Reader& r) {
  Subscribe s;
  s.packet_id = r.U16();
  while (r.ok() && !r.AtEnd()) {
    std::string filter = r.Text("topic filter");
    uint8_t qos = r.U8();
    // Reserved bits set, or QoS 3: malformed, and the connection closes (MQTT 3.1.1 §3.8.3-4).
    if (r.ok() && ((qos & 0xFC) || qos == 3)) r.Fail("requested QoS byte " + std::to_string(qos));
    if (r.ok() && filter.empty()) r.Fail("empty topic filter");
    s.filters.emplace_back(std::move(filter), qos);
  }
  if (r.ok() && s.filters.empty()) r.Fail("SUBSCRIBE without topic filters");
  return s;
}

Packet DecodeSuback(Reader& r) {
  Suback s;
  s.packet_id = r.U16();
  while (r.ok() && !r.AtEnd()) {
    uint8_t code = r.U8();
    if (code > 2 && code != kSubackFailure) r.Fail("SUBACK return code " + std::to_string(code));
    s.return_codes.push_back(code);
  }
  return s;
}

Packet DecodeUnsubscribe(Reader& r) {
  Unsubscribe u;
  u.packet_id = r.U16();
  while (r.ok() && !r.AtEnd()) u.filters.push_back(r.Text("topic filter"));
  if (r.ok() && u.filters.empty()) r.Fail("UNSUBSCRIBE without topic filters");
  return u;
}

void PutU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}

void PutString(std::string& out, std::string_view s) {
  PutU16(out, static_cast<uint16_t>(s.size()));
  out.append(s);
}

std::string Frame(PacketType type, uint8_t flags, const std::string& body) {
  std::string out;
  out.reserve(body.size() + 5);
  out.push_back(static_cast<char>(static_cast<uint8_t>(type) << 4 | flags));
  size_t length = body.size();
  do {
    uint8_t byte = length % 128;
    length /= 128;
    if (length > 0) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (length > 0);
  out.append(body);
  return out;
}

struct Encoder {
  std::string operator()(const Connect& c) const {
    std::string b;
    PutString(b, c.protocol_name);
    b.push_back(static_cast<char>(c.protocol_level));
    uint8_t flags = (c.clean_session ? 0x02 : 0) | (c.username ? 0x80 : 0) | (c.password ? 0x40 : 0);
    if (c.will) flags |= 0x04 | (c.will->qos << 3) | (c.will->retain ? 0x20 : 0);
    b.push_back(static_cast<char>(flags));
    PutU16(b, c.keep_alive_seconds);
    PutString(b, c.client_id);
    if (c.will) {
      PutString(b, c.will->topic);
      PutString(b, c.will->payload);
    }
    if (c.username) PutString(b, *c.username);
    if (c.password) PutString(b, *c.password);
    return Frame(PacketType::kConnect, 0, b);
  }
  std::string operator()(const Connack& c) const {
    std::string b{static_cast<char>(c.session_present ? 1 : 0), static_cast<char>(c.return_code)};
    return Frame(PacketType::kConnack, 0, b);
  }
  std::string operator()(const Publish& p) const {
    std::string b;
    PutString(b, p.topic);
    if (p.qos > 0) PutU16(b, p.packet_id);
    b.append(p.payload);
    uint8_t flags = (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 0x01 : 0);
    return Frame(PacketType::kPublish, flags, b);
  }
  std::string operator()(const Puback& p) const {
    std::string b;
    PutU16(b, p.packet_id);
    return Frame(PacketType::kPuback, 0, b);
  }
  std::string operator()(const Subscribe& s) const {
    std::string b;
    PutU16(b, s.packet_id);
    for (const auto& [filter, qos] : s.filters) {
      PutString(b, filter);
      b.push_back(static_cast<char>(qos));
    }
    return Frame(PacketType::kSubscribe, 0x02, b);
  }
  std::string operator()(const Suback& s) const {
    std::string b;
    PutU16(b, s.packet_id);
    for (uint8_t code : s.return_codes) b.push_back(static_cast<char>(code));
    return Frame(PacketType::kSuback, 0, b);
  }
  std::string operator()(const Unsubscribe& u) const {
    std::string b;
    PutU16(b, u.packet_id);
    for (const auto& f : u.filters) PutString(b, f);
    return Frame(PacketType::kUnsubscribe, 0x02, b);
  }
  std::string operator()(const Unsuback& u) const {
    std::string b;
    PutU16(b, u.packet_id);
    return Frame(PacketType::kUnsuback, 0, b);
  }
  std::string operator()(const Pingreq&) const { return Frame(PacketType::kPingreq, 0, {}); }
  std::string operator()(const Pingresp&) const { return Frame(PacketType::kPingresp, 0, {}); }
  std::string operator()(const Disconnect&) const { return Frame(PacketType::kDisconnect, 0, {}); }
};

}  // namespace

bool IsValidMqttUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    uint8_t c = static_cast<uint8_t>(text[i]);
    uint32_t cp;
    size_t extra;
    if (c < 0x80) {
      cp = c;
      extra = 0;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      extra = 1;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      extra = 2;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= text.size() && extra > 0) return false;
    for (size_t k = 1; k <= extra; ++k) {
      uint8_t cc = static_cast<uint8_t>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = cp << 6 | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) return false;
    i += extra + 1;
  }
  return true;
}

DecodeResult Decode(std::string_view input, size_t max_packet_bytes) {
  if (input.size() < 2) return NeedMore{};
  const uint8_t first = static_cast<uint8_t>(input[0]);
  const auto type = static_cast<PacketType>(first >> 4);
  const uint8_t flags = first & 0x0F;

  size_t remaining = 0, header = 1;
  for (int shift = 0;; shift += 7) {
    if (header >= input.size()) return NeedMore{};
    if (header > 4) return Malformed{"remaining length longer than 4 bytes"};
    uint8_t byte = static_cast<uint8_t>(input[header++]);
    remaining |= static_cast<size_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) break;
  }
  const size_t total = header + remaining;
  if (total > max_packet_bytes) {
    return Malformed{"packet of " + std::to_string(total) + " bytes exceeds the limit of " +
                     std::to_string(max_packet_bytes)};
  }
  if (input.size() < total) return NeedMore{total};

  Reader r(input.substr(header, remaining));
  auto expect_flags = [&](uint8_t wanted) {
    if (flags != wanted) r.Fail("invalid fixed-header flags");
  };
  auto expect_empty = [&] {
    if (remaining != 0) r.Fail("unexpected payload");
  };
  Packet packet;
  switch (type) {
    case PacketType::kConnect:
      expect_flags(0);
      packet = DecodeConnect(r);
      break;
    case PacketType::kConnack: {
      expect_flags(0);
      uint8_t ack_flags = r.U8();
      uint8_t code = r.U8();
      if (r.ok() && (ack_flags & 0xFE)) r.Fail("reserved CONNACK flags set");
      if (r.ok() && code > 5) r.Fail("CONNACK return code " + std::to_string(code));
      packet = Connack{(ack_flags & 1) != 0, static_cast<ConnectReturnCode>(code)};
      break;
    }
    case PacketType::kPublish:
      packet = DecodePublish(r, flags);
      break;
    case PacketType::kPuback:
      expect_flags(0);
      packet = Puback{r.U16()};
      break;
    case PacketType::kSubscribe:
      expect_flags(0x02);
      packet = DecodeSubscribe(r);
      break;
    case PacketType::kSuback:
      expect_flags(0);
      packet = DecodeSuback(r);
      break;
    case PacketType::kUnsubscribe:
      expect_flags(0x02);
      packet = DecodeUnsubscribe(r);
      break;
    case PacketType::kUnsuback:
      expect_flags(0);
      packet = Unsuback{r.U16()};
      break;
    case PacketType::kPingreq:
      expect_flags(0);
      expect_empty();
      packet = Pingreq{};
      break;
    case PacketType::kPingresp:
      expect_flags(0);
      expect_empty();
      packet = Pingresp{};
      break;
    case PacketType::kDisconnect:
      expect_flags(0);
      expect_empty();
      packet = Disconnect{};
      break;
    case PacketType::kPubrec:
    case PacketType::kPubrel:
    case PacketType::kPubcomp:
      return Malformed{"QoS 2 packets are not supported"};
    default:
      return Malformed{"unknown packet type " + std::to_string(first >> 4)};
  }
  if (r.ok() && !r.AtEnd()) r.Fail("trailing bytes after the packet");
  if (!r.ok()) return Malformed{r.error()};
  return Decoded{std::move(packet), total};
}

std::string Encode(const Packet& packet) { return std::visit(Encoder{}, packet); }

}  // namespace iothub::mqtt
