#include "amqp/service_message.h"

#include <doctest/doctest.h>

#include <proton/binary.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/scalar.hpp>
#include <proton/timestamp.hpp>
#include <proton/types.hpp>
#include <proton/uuid.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <vector>

namespace iothub::amqp {
namespace {

using namespace std::chrono_literals;

std::string Encode(proton::message& m) {
  std::vector<char> bytes;
  m.encode(bytes);
  return std::string(bytes.begin(), bytes.end());
}

// A message as azure-iothub's AmqpMessage.fromMessage makes it (spec §7).
proton::message FromSdk() {
  proton::message m;
  m.to("/devices/dev%201/messages/devicebound");
  m.id(std::string("msg-1"));
  m.correlation_id(std::string("corr 1"));
  m.content_type("application/json");
  m.content_encoding("utf-8");
  m.properties().put("iothub-ack", "full");
  m.properties().put("room", "kitchen");
  m.properties().put("IoThub-status", int32_t{200});
  m.body(proton::binary(std::string("{\"on\":true}")));
  m.inferred(true);  // a data section, as rhea's message.data_section
  return m;
}

}  // namespace

TEST_CASE("Service message: what azure-iothub sends becomes the device's message") {
  proton::message sent = FromSdk();
  sent.expiry_time(proton::timestamp(1'900'000'000'123));
  auto m = DecodeServiceMessage(Encode(sent));
  REQUIRE(m.ok());
  CHECK(m->device_id == "dev 1");  // `to` names it url-encoded
  CHECK(m->body == "{\"on\":true}");
  CHECK(m->properties.message_id == "msg-1");
  CHECK(m->properties.correlation_id == "corr 1");
  CHECK(m->properties.content_type == "application/json");
  CHECK(m->properties.content_encoding == "utf-8");
  CHECK_FALSE(m->properties.user_id);
  CHECK(m->ack == "full");
  CHECK(m->expiry_time == TimePoint(std::chrono::milliseconds(1'900'000'000'123)));
  Properties properties = m->application_properties;
  std::sort(properties.begin(), properties.end());
  CHECK(properties == Properties{{"IoThub-status", "200"}, {"room", "kitchen"}});
}

TEST_CASE("Service message: uuid and numeric ids become text, an amqp-value string is a body, no ack is none") {
  proton::message sent;
  sent.to("devices/d1/messages/devicebound");  // without the leading '/'
  const proton::uuid id = proton::uuid::random();
  sent.id(id);
  sent.correlation_id(uint64_t{42});
  sent.body(std::string("plain text"));
  auto m = DecodeServiceMessage(Encode(sent));
  REQUIRE(m.ok());
  CHECK(m->device_id == "d1");
  CHECK(m->properties.message_id == id.str());
  CHECK(m->properties.correlation_id == "42");
  CHECK(m->body == "plain text");
  CHECK(m->ack == "none");
  CHECK(m->expiry_time == TimePoint{});  // the queue's default applies
}

TEST_CASE("Service message: what is not a message for one device is ArgumentInvalid, saying why") {
  auto refused = [](const std::string& bytes, const std::string& why) {
    auto m = DecodeServiceMessage(bytes);
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().code() == ErrorCode::kArgumentInvalid);
    CHECK_MESSAGE(m.status().message().find(why) != std::string::npos, m.status().message());
  };
  proton::message no_to;
  no_to.id(std::string("m"));
  no_to.body(std::string("x"));
  refused(Encode(no_to), "no 'to'");
  for (const char* to : {"/devices/d1/messages/events", "/devices//messages/devicebound", "/devices/a/b/messages/devicebound",
                         "/messages/devicebound", "/devices/%zz/messages/devicebound"}) {
    CAPTURE(to);
    proton::message wrong = FromSdk();
    wrong.to(to);
    refused(Encode(wrong), "not /devices/{deviceId}/messages/devicebound");
  }
  proton::message bad_ack = FromSdk();
  bad_ack.properties().put("iothub-ack", "always");
  refused(Encode(bad_ack), "'iothub-ack' must be");
  proton::message posing = FromSdk();
  posing.properties().put("$.mid", "x");
  refused(Encode(posing), "may not start with '$.'");
  refused("not AMQP at all", "not an encoded AMQP message");
  refused(std::string("\x00\x53\x75\xa1\x01x", 6), "A data section must be binary");
  refused(std::string("\x00\x53\x99\x45", 4), "not AMQP's");
  refused(std::string("\x40", 1), "described sections");
  refused("", "no 'to'");
}

TEST_CASE("Service message: DeviceIdOfAddress reads IoT Hub's device-bound address only") {
  CHECK(DeviceIdOfAddress("/devices/d1/messages/devicebound") == "d1");
  CHECK(DeviceIdOfAddress("devices/a%2Bb%40c/messages/devicebound") == "a+b@c");
  CHECK_FALSE(DeviceIdOfAddress("/devices/d1/messages/devicebound/x"));
  CHECK_FALSE(DeviceIdOfAddress("/devices/d1"));
  CHECK_FALSE(DeviceIdOfAddress(""));
}

TEST_CASE("Service message: a feedback message carries its records as IoT Hub's JSON, from the hub's name") {
  const TimePoint when = TimePoint(std::chrono::milliseconds(1'750'000'000'250));
  FeedbackBatch batch{"lock-1", {MakeFeedbackRecord("m1", "dev1", "637000", FeedbackStatus::kSuccess, when),
                                 MakeFeedbackRecord("", "dev2", "638000", FeedbackStatus::kRejected, when + 1s)}};
  proton::message m;
  const std::string bytes = EncodeFeedbackMessage(batch, "feedback-1", "emulator", when + 2s);
  m.decode(std::vector<char>(bytes.begin(), bytes.end()));
  CHECK(proton::get<std::string>(m.id()) == "feedback-1");
  CHECK(m.user() == "emulator");
  CHECK(m.content_type() == kFeedbackContentType);
  CHECK(proton::get<proton::timestamp>(m.message_annotations().get(proton::symbol("iothub-enqueuedtime"))).milliseconds() ==
        1'750'000'002'250);
  const proton::binary body = proton::get<proton::binary>(m.body());
  const auto records = nlohmann::json::parse(std::string(body.begin(), body.end()));
  CHECK(records == nlohmann::json::parse(R"([
    {"originalMessageId":"m1","enqueuedTimeUtc":"2025-06-15T15:06:40.250Z","statusCode":"Success",
     "description":"Success","deviceId":"dev1","deviceGenerationId":"637000"},
    {"originalMessageId":"","enqueuedTimeUtc":"2025-06-15T15:06:41.250Z","statusCode":"Rejected",
     "description":"Message rejected","deviceId":"dev2","deviceGenerationId":"638000"}])"));
}

}  // namespace iothub::amqp
