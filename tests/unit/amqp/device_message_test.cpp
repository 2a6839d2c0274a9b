// The device links' messages against Proton's own C++ message codec: what it encodes
// as azure-iot-device-amqp does decodes to what the hub keeps, and what the hub sends
// reads back with the fields the SDK's AmqpMessage.toMessage and twin client read.
#include "amqp/device_message.h"

#include <doctest/doctest.h>

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/map.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/scalar.hpp>
#include <proton/timestamp.hpp>
#include <proton/uuid.hpp>

#include <vector>

namespace iothub::amqp {
namespace {

std::string Encode(const proton::message& m) {
  std::vector<char> bytes;
  m.encode(bytes);
  return {bytes.begin(), bytes.end()};
}

proton::message Decode(const std::string& bytes) {
  proton::message m;
  m.decode(std::vector<char>(bytes.begin(), bytes.end()));
  return m;
}

// A data-section body, as rhea.message.data_section makes it.
void SetData(proton::message& m, const std::string& body) {
  m.body(proton::binary(body));
  m.inferred(true);
}

std::string BodyOf(const proton::message& m) {
  return std::string(proton::get<proton::binary>(m.body()));
}

DeviceMessage Decoded(const proton::message& m) {
  auto decoded = DecodeDeviceMessage(Encode(m));
  REQUIRE(decoded.ok());
  return std::move(decoded).value();
}

}  // namespace

TEST_CASE("telemetry as the SDK sends it keeps its ids, properties and annotations") {
  proton::message m;
  m.id(proton::uuid::copy("\x12\x34\x56\x78\x9a\xbc\xde\xf0\x12\x34\x56\x78\x9a\xbc\xde\xf0"));
  m.correlation_id("corr 1");
  m.content_type("application/json");
  m.content_encoding("utf-8");
  m.to("/devices/d1/messages/events");
  m.expiry_time(proton::timestamp(1'800'000'000'000));
  m.properties().put("temperatureAlert", "true");
  m.properties().put("a&b", "x=y/z");
  m.properties().put("count", int32_t{7});
  m.properties().put("flag", false);
  m.message_annotations().put(proton::symbol("dt-subject"), "thermostat1");
  m.message_annotations().put(proton::symbol("iothub-interface-id"), "urn:x");
  m.message_annotations().put(proton::symbol("iothub-creation-time-utc"), "2026-11-26T14:30:59.123Z");
  SetData(m, R"({"windSpeed":10})");

  DeviceMessage d = Decoded(m);
  REQUIRE(d.message_id);
  CHECK(d.message_id->type == AmqpId::Type::kUuid);
  CHECK(d.message_id->text == "12345678-9abc-def0-1234-56789abcdef0");
  CHECK(d.to == "/devices/d1/messages/events");

  TelemetryMessage t = ToTelemetry(std::move(d));
  CHECK(t.body == R"({"windSpeed":10})");
  CHECK(t.properties.message_id == "12345678-9abc-def0-1234-56789abcdef0");
  CHECK(t.properties.correlation_id == "corr 1");
  CHECK(t.properties.content_type == "application/json");
  CHECK(t.properties.content_encoding == "utf-8");
  CHECK(t.properties.absolute_expiry_time == "2027-01-15T08:00:00.000Z");
  CHECK(t.properties.user_id == std::nullopt);
  CHECK(t.component == "thermostat1");
  CHECK(t.interface_id == "urn:x");
  CHECK(t.creation_time == "2026-11-26T14:30:59.123Z");
  Properties expected = {{"a&b", "x=y/z"}, {"count", "7"}, {"flag", "false"}, {"temperatureAlert", "true"}};
  Properties got = t.application_properties;
  std::sort(got.begin(), got.end());
  CHECK(got == expected);
}

TEST_CASE("a body of several data sections is their concatenation, and a string amqp-value is a body too") {
  proton::message m;
  m.body("plain text");  // a string: an amqp-value section
  CHECK(Decoded(m).body == "plain text");

  // Two data sections, written by hand: described(0x75, binary) twice.
  const std::string one("\x00\x53\x75\xa0\x03" "abc", 8);
  const std::string two("\x00\x53\x75\xa0\x02" "de", 7);
  auto decoded = DecodeDeviceMessage(one + two);
  REQUIRE(decoded.ok());
  CHECK(decoded->body == "abcde");
}

TEST_CASE("bytes that are not a message, and text that is not UTF-8, are refused") {
  CHECK(DecodeDeviceMessage("not amqp").status().code() == ErrorCode::kIotHubFormatError);
  CHECK(DecodeDeviceMessage(std::string("\x00\x53\x75", 3)).status().code() == ErrorCode::kIotHubFormatError);
  CHECK(DecodeDeviceMessage(std::string("\xa1\x01x", 3)).status().code() == ErrorCode::kIotHubFormatError);

  proton::message m;
  m.properties().put("bad", std::string("\xff\xfe"));
  SetData(m, "x");
  CHECK(DecodeDeviceMessage(Encode(m)).status().code() == ErrorCode::kArgumentInvalid);

  proton::message overlong;
  overlong.correlation_id(std::string("\xc0\xaf"));  // '/' written in two bytes
  CHECK(DecodeDeviceMessage(Encode(overlong)).status().code() == ErrorCode::kArgumentInvalid);
  proton::message fine;
  fine.correlation_id(std::string("caf\xc3\xa9 \xf0\x9f\x98\x80"));
  CHECK(DecodeDeviceMessage(Encode(fine)).ok());
}

TEST_CASE("twin requests: operation and resource annotations, correlation-id kept as sent") {
  auto request = [](const char* operation, const char* resource, const std::string& body) {
    proton::message m;
    m.message_annotations().put(proton::symbol("operation"), operation);
    if (resource) m.message_annotations().put(proton::symbol("resource"), resource);
    m.correlation_id("4f3c7d0e-2b1a-4c5d-8e9f-0a1b2c3d4e5f");
    SetData(m, body);
    return ParseTwinRequest(Decoded(m));
  };
  auto get = request("GET", nullptr, " ");
  REQUIRE(get.ok());
  CHECK(get->operation == TwinRequest::Operation::kGet);
  CHECK(get->correlation_id == AmqpId{AmqpId::Type::kString, "4f3c7d0e-2b1a-4c5d-8e9f-0a1b2c3d4e5f"});

  auto patch = request("PATCH", "/properties/reported", R"({"battery":80})");
  REQUIRE(patch.ok());
  CHECK(patch->operation == TwinRequest::Operation::kPatchReported);
  CHECK(patch->body == R"({"battery":80})");
  CHECK(request("PUT", "/notifications/twin/properties/desired", " ")->operation ==
        TwinRequest::Operation::kSubscribeDesired);
  CHECK(request("DELETE", "/notifications/twin/properties/desired", " ")->operation ==
        TwinRequest::Operation::kUnsubscribeDesired);

  CHECK(request("PATCH", "/properties/desired", "{}").status().code() == ErrorCode::kArgumentInvalid);
  CHECK(request("POST", nullptr, "{}").status().code() == ErrorCode::kArgumentInvalid);
  proton::message none;
  SetData(none, " ");
  CHECK(ParseTwinRequest(Decoded(none)).status().code() == ErrorCode::kArgumentInvalid);
}

TEST_CASE("method answers: the request id as correlation-id and an integer IoThub-status") {
  proton::message m;
  m.correlation_id("17");
  m.properties().put("IoThub-status", int32_t{200});
  SetData(m, R"({"applied":true})");
  auto answer = ParseMethodAnswer(Decoded(m));
  REQUIRE(answer.ok());
  CHECK(answer->request_id == "17");
  CHECK(answer->status == 200);
  CHECK(answer->payload == R"({"applied":true})");

  proton::message text_status = m;
  text_status.properties().put("IoThub-status", "404");  // a number as text is read too
  CHECK(ParseMethodAnswer(Decoded(text_status))->status == 404);

  proton::message no_status;
  no_status.correlation_id("17");
  CHECK(ParseMethodAnswer(Decoded(no_status)).status().code() == ErrorCode::kArgumentInvalid);
  proton::message bad_status = no_status;
  bad_status.properties().put("IoThub-status", "ok");
  CHECK(ParseMethodAnswer(Decoded(bad_status)).status().code() == ErrorCode::kArgumentInvalid);
  proton::message no_id;
  no_id.properties().put("IoThub-status", int32_t{200});
  CHECK(ParseMethodAnswer(Decoded(no_id)).status().code() == ErrorCode::kArgumentInvalid);
}

TEST_CASE("a cloud-to-device message carries what AmqpMessage.toMessage reads") {
  CloudToDeviceMessage c;
  c.device_id = "d1";
  c.body = "hello";
  c.properties.message_id = "c2d-1";
  c.properties.correlation_id = "corr";
  c.properties.content_type = "text/plain";
  c.properties.content_encoding = "utf-8";
  c.application_properties = {{"room", "kitchen"}};
  c.ack = "full";
  c.enqueued_time = TimePoint(std::chrono::seconds(1'800'000'000));
  c.expiry_time = c.enqueued_time + std::chrono::hours(1);
  c.delivery_count = 3;

  proton::message m = Decode(EncodeCloudToDevice(c));
  CHECK(BodyOf(m) == "hello");
  CHECK(proton::get<std::string>(m.id()) == "c2d-1");
  CHECK(proton::get<std::string>(m.correlation_id()) == "corr");
  CHECK(m.to() == "/devices/d1/messages/devicebound");
  CHECK(m.content_type() == "text/plain");
  CHECK(m.content_encoding() == "utf-8");
  CHECK(m.expiry_time().milliseconds() == (1'800'000'000LL + 3600) * 1000);
  CHECK(m.creation_time().milliseconds() == 1'800'000'000LL * 1000);
  CHECK(m.delivery_count() == 2);  // earlier deliveries
  CHECK(!m.first_acquirer());
  CHECK(proton::get<std::string>(m.properties().get("room")) == "kitchen");
  CHECK(proton::get<std::string>(m.properties().get("iothub-ack")) == "full");

  c.ack = "none";
  c.application_properties.clear();
  c.delivery_count = 1;
  proton::message plain = Decode(EncodeCloudToDevice(c));
  CHECK(plain.properties().empty());
  CHECK(plain.first_acquirer());
  CHECK(plain.delivery_count() == 0);
}

TEST_CASE("twin answers: status and version annotations, the request's correlation-id of the same type") {
  const AmqpId uuid{AmqpId::Type::kUuid, "12345678-9abc-def0-1234-56789abcdef0"};
  proton::message m = Decode(EncodeTwinAnswer(uuid, 204, 7, ""));
  CHECK(proton::get<int32_t>(m.message_annotations().get(proton::symbol("status"))) == 204);
  CHECK(proton::get<int64_t>(m.message_annotations().get(proton::symbol("version"))) == 7);
  REQUIRE(m.correlation_id().type() == proton::UUID);
  CHECK(proton::get<proton::uuid>(m.correlation_id()).str() == uuid.text);
  CHECK(BodyOf(m).empty());

  const AmqpId text{AmqpId::Type::kString, "abc"};
  proton::message get = Decode(EncodeTwinAnswer(text, 200, std::nullopt, R"({"desired":{}})"));
  CHECK(proton::get<std::string>(get.correlation_id()) == "abc");
  CHECK(!get.message_annotations().exists(proton::symbol("version")));
  CHECK(BodyOf(get) == R"({"desired":{}})");

  proton::message ulong = Decode(EncodeTwinAnswer(AmqpId{AmqpId::Type::kUlong, "42"}, 400, std::nullopt, "{}"));
  CHECK(proton::get<uint64_t>(ulong.correlation_id()) == 42);

  // What a request decoded to goes back unchanged.
  proton::message request;
  request.correlation_id(proton::binary(std::string("\x01\x02", 2)));
  DeviceMessage d = Decoded(request);
  proton::message echoed = Decode(EncodeTwinAnswer(d.correlation_id, 200, std::nullopt, ""));
  CHECK(std::string(proton::get<proton::binary>(echoed.correlation_id())) == std::string("\x01\x02", 2));
}

TEST_CASE("method requests and desired patches") {
  proton::message request = Decode(EncodeMethodRequest("setInterval", "5", R"({"seconds":5})"));
  CHECK(proton::get<std::string>(request.properties().get("IoThub-methodname")) == "setInterval");
  CHECK(proton::get<std::string>(request.correlation_id()) == "5");
  CHECK(BodyOf(request) == R"({"seconds":5})");

  proton::message patch = Decode(EncodeDesiredPatch(3, R"({"interval":5,"$version":3})"));
  CHECK(patch.correlation_id().empty());  // how the SDK tells a patch from an answer
  CHECK(BodyOf(patch) == R"({"interval":5,"$version":3})");
}

}  // namespace iothub::amqp
