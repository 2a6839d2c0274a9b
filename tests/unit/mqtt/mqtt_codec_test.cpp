#include "mqtt/codec/mqtt_codec.h"

#include <doctest/doctest.h>

namespace iothub::mqtt {
namespace {

constexpr size_t kMax = 1 << 20;

std::string Bytes(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

Packet RoundTrip(const Packet& packet) {
  std::string wire = Encode(packet);
  auto result = Decode(wire, kMax);
  REQUIRE(std::holds_alternative<Decoded>(result));
  CHECK(std::get<Decoded>(result).consumed == wire.size());
  return std::get<Decoded>(result).packet;
}

std::string MalformedReason(const std::string& wire) {
  auto result = Decode(wire, kMax);
  REQUIRE(std::holds_alternative<Malformed>(result));
  return std::get<Malformed>(result).reason;
}

}  // namespace

TEST_CASE("MQTT codec: every packet IoT Hub uses survives encode and decode") {
  Connect c;
  c.clean_session = false;
  c.keep_alive_seconds = 180;
  c.client_id = "dev1";
  c.username = "localhost/dev1/?api-version=2021-04-12";
  c.password = std::string("SharedAccessSignature sr=x\0y", 28);
  c.will = Will{"devices/dev1/messages/events/", "bye", 1, true};
  auto connect = std::get<Connect>(RoundTrip(c));
  CHECK(connect.client_id == "dev1");
  CHECK_FALSE(connect.clean_session);
  CHECK(connect.keep_alive_seconds == 180);
  CHECK(connect.username == c.username);
  CHECK(connect.password == c.password);
  REQUIRE(connect.will);
  CHECK(connect.will->payload == "bye");
  CHECK(connect.will->qos == 1);
  CHECK(connect.will->retain);

  auto connack = std::get<Connack>(RoundTrip(Connack{true, ConnectReturnCode::kNotAuthorized}));
  CHECK(connack.session_present);
  CHECK(connack.return_code == ConnectReturnCode::kNotAuthorized);

  auto publish = std::get<Publish>(RoundTrip(Publish{"devices/d/messages/events/a=b", std::string("\0\1\2", 3), 1,
                                                     true, true, 77}));
  CHECK(publish.topic == "devices/d/messages/events/a=b");
  CHECK(publish.payload == std::string("\0\1\2", 3));
  CHECK(publish.qos == 1);
  CHECK(publish.retain);
  CHECK(publish.dup);
  CHECK(publish.packet_id == 77);

  CHECK(std::get<Puback>(RoundTrip(Puback{65535})).packet_id == 65535);
  auto sub = std::get<Subscribe>(RoundTrip(Subscribe{5, {{"$iothub/twin/res/#", 0}, {"devices/d/messages/devicebound/#", 1}}}));
  REQUIRE(sub.filters.size() == 2);
  CHECK(sub.filters[1].first == "devices/d/messages/devicebound/#");
  CHECK(sub.filters[1].second == 1);
  CHECK(std::get<Suback>(RoundTrip(Suback{5, {0, 1, kSubackFailure}})).return_codes ==
        std::vector<uint8_t>{0, 1, kSubackFailure});
  CHECK(std::get<Unsubscribe>(RoundTrip(Unsubscribe{6, {"$iothub/methods/POST/#"}})).filters.size() == 1);
  CHECK(std::get<Unsuback>(RoundTrip(Unsuback{6})).packet_id == 6);
  CHECK(std::holds_alternative<Pingreq>(RoundTrip(Pingreq{})));
  CHECK(std::holds_alternative<Pingresp>(RoundTrip(Pingresp{})));
  CHECK(std::holds_alternative<Disconnect>(RoundTrip(Disconnect{})));
}

TEST_CASE("MQTT codec: remaining length uses 1 to 4 bytes at the spec's boundaries") {
  for (size_t payload : {0ul, 100ul, 127ul - 5, 128ul, 16383ul, 16384ul, 300000ul}) {
    CAPTURE(payload);
    Publish p{"t", std::string(payload, 'x'), 0, false, false, 0};
    std::string wire = Encode(p);
    size_t remaining = 3 + payload;
    size_t length_bytes = remaining < 128 ? 1 : remaining < 16384 ? 2 : remaining < 2097152 ? 3 : 4;
    CHECK(wire.size() == 1 + length_bytes + remaining);
    CHECK(std::get<Publish>(RoundTrip(p)).payload.size() == payload);
  }
  CHECK(MalformedReason(Bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01})).find("4 bytes") != std::string::npos);
}

TEST_CASE("MQTT codec: a packet cut anywhere needs more bytes, two packets decode one at a time") {
  std::string wire = Encode(Publish{"devices/d/messages/events/", std::string(200, 'p'), 1, false, false, 9});
  for (size_t cut = 0; cut < wire.size(); ++cut) {
    CAPTURE(cut);
    CHECK(std::holds_alternative<NeedMore>(Decode(std::string_view(wire).substr(0, cut), kMax)));
  }
  std::string two = wire + Encode(Pingreq{});
  auto first = std::get<Decoded>(Decode(two, kMax));
  CHECK(first.consumed == wire.size());
  auto second = std::get<Decoded>(Decode(std::string_view(two).substr(first.consumed), kMax));
  CHECK(std::holds_alternative<Pingreq>(second.packet));
}

TEST_CASE("MQTT codec: a packet over the size limit is malformed as soon as its length is known") {
  std::string header = Encode(Publish{"t", std::string(1000, 'x'), 0, false, false, 0}).substr(0, 3);
  auto result = Decode(header, 500);  // only the fixed header has arrived
  REQUIRE(std::holds_alternative<Malformed>(result));
  CHECK(std::get<Malformed>(result).reason.find("exceeds") != std::string::npos);
}

TEST_CASE("MQTT codec: malformed packets are named, not guessed at") {
  struct Case {
    const char* name;
    std::string wire;
  };
  auto publish_with_flags = [](int flags) {
    std::string body = Bytes({0, 1, 't', 0, 1});
    return Bytes({0x30 | flags, static_cast<int>(body.size())}) + body;
  };
  auto connect_with_flags = [](int flags) {
    std::string body = Bytes({0, 4, 'M', 'Q', 'T', 'T', 4, flags, 0, 60, 0, 1, 'c'});
    return Bytes({0x10, static_cast<int>(body.size())}) + body;
  };
  const Case cases[] = {
      {"PUBLISH QoS 3", publish_with_flags(0x06)},
      {"DUP on QoS 0", publish_with_flags(0x08)},
      {"wildcard in a topic name", Bytes({0x30, 4, 0, 2, 'a', '#'})},
      {"empty topic name", Bytes({0x30, 2, 0, 0})},
      {"invalid UTF-8 topic", Bytes({0x30, 4, 0, 2, 0xC3, 0x28})},
      {"NUL in a topic", Bytes({0x30, 4, 0, 2, 'a', 0})},
      {"packet id 0 at QoS 1", Bytes({0x32, 5, 0, 1, 't', 0, 0})},
      {"SUBSCRIBE with wrong flags", Bytes({0x80, 6, 0, 1, 0, 1, 'a', 0})},
      {"SUBSCRIBE without filters", Bytes({0x82, 2, 0, 1})},
      {"SUBSCRIBE with reserved QoS bits", Bytes({0x82, 6, 0, 1, 0, 1, 'a', 0x04})},
      {"SUBSCRIBE asking QoS 3", Bytes({0x82, 6, 0, 1, 0, 1, 'a', 0x03})},
      {"UNSUBSCRIBE without filters", Bytes({0xA2, 2, 0, 1})},
      {"PINGREQ with a payload", Bytes({0xC0, 1, 0})},
      {"DISCONNECT with flags", Bytes({0xE1, 0})},
      {"PUBREL (QoS 2)", Bytes({0x62, 2, 0, 1})},
      {"packet type 15", Bytes({0xF0, 0})},
      {"packet type 0", Bytes({0x00, 0})},
      {"CONNECT reserved flag", connect_with_flags(0x01)},
      {"CONNECT password without user name", connect_with_flags(0x40)},
      {"CONNECT will QoS without a will", connect_with_flags(0x08)},
      {"CONNECT truncated", Bytes({0x10, 3, 0, 4, 'M'})},
      {"PUBACK with trailing bytes", Bytes({0x40, 3, 0, 1, 0})},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK_FALSE(MalformedReason(c.wire).empty());
  }
}

TEST_CASE("MQTT codec: UTF-8 rule of MQTT strings") {
  CHECK(IsValidMqttUtf8("devices/dev1"));
  CHECK(IsValidMqttUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(IsValidMqttUtf8(std::string("a\0b", 3)));
  CHECK_FALSE(IsValidMqttUtf8("\xC0\xAF"));          // overlong
  CHECK_FALSE(IsValidMqttUtf8("\xED\xA0\x80"));      // surrogate
  CHECK_FALSE(IsValidMqttUtf8("\xE2\x82"));          // cut short
  CHECK_FALSE(IsValidMqttUtf8("\xF4\x90\x80\x80"));  // beyond U+10FFFF
}

}  // namespace iothub::mqtt
