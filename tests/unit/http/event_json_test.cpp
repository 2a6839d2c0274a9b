// The event stream writes each event's JSON text directly (EventToJsonText); the read
// API builds the document (EventToJson). They must say the same thing, byte for byte.
#include "http/event_json.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

namespace iothub::http {
namespace {

using nlohmann::json;

Event SampleEvent() {
  Event e;
  e.body = R"({"temperature": 21.5, "b": [1, 2], "a": "x"})";
  e.properties.message_id = "m-1";
  e.properties.content_type = "application/json";
  e.application_properties = {{"zeta", "1"}, {"alpha", "2"}};
  e.annotations = {{"iothub-connection-device-id", "dev-1"},
                   {"iothub-connection-auth-method", R"({"scope":"device","type":"sas","issuer":"iothub"})"}};
  e.partition = 3;
  e.sequence_number = 123456789012;
  e.offset = 98765;
  e.enqueued_time = TimePoint(std::chrono::microseconds(1'700'000'000'123'456));
  return e;
}

void CheckSameText(const Event& e) {
  const std::string text = EventToJsonText(e);
  CHECK(text == EventToJson(e).dump(-1, ' ', false, json::error_handler_t::replace));
  CHECK(text.find_first_of("\r\n") == std::string::npos);
}

}  // namespace

TEST_CASE("Event JSON: the stream's text is the read API's document, byte for byte") {
  Event e = SampleEvent();
  SUBCASE("a JSON body, re-written compact with sorted keys") { CheckSameText(e); }
  SUBCASE("a JSON content type on a body that is not JSON: text") {
    e.body = "{not json";
    CheckSameText(e);
  }
  SUBCASE("no content type: the body as text, escapes included") {
    e.properties.content_type.reset();
    e.body = "line 1\nline \"2\"\t\\ end\x01\x7f caf\xc3\xa9";
    CheckSameText(e);
  }
  SUBCASE("a body that is not UTF-8: base64") {
    e.properties.content_type.reset();
    e.body = std::string("\xff\xfe\x00\x01", 4);
    CheckSameText(e);
  }
  SUBCASE("every system property, with characters to escape") {
    e.properties.correlation_id = "c\"1\\";
    e.properties.user_id = "user\x02";
    e.properties.content_encoding = "utf-8";
    e.properties.absolute_expiry_time = "2030-01-01T00:00:00.000Z";
    CheckSameText(e);
  }
  SUBCASE("bytes that are not UTF-8 in properties and keys become U+FFFD") {
    e.application_properties.emplace_back("k\xff", "v\xc3");
    e.annotations.emplace_back("dt-subject", "\xe2\x82");
    CheckSameText(e);
  }
  SUBCASE("a repeated key: the later value, as a map keeps it") {
    e.application_properties = {{"k", "first"}, {"a", "x"}, {"k", "second"}};
    CheckSameText(e);
    CHECK(json::parse(EventToJsonText(e))["applicationProperties"]["k"] == "second");
  }
  SUBCASE("a stored annotation named like an x-opt one gives way to the real value") {
    e.annotations.emplace_back("x-opt-offset", "forged");
    e.annotations.emplace_back("x-opt-sequence-number", "forged");
    CheckSameText(e);
    CHECK(json::parse(EventToJsonText(e))["annotations"]["x-opt-offset"] == "98765");
  }
  SUBCASE("nothing but the log's own fields") {
    Event bare;
    bare.partition = 0;
    bare.sequence_number = 0;
    bare.offset = 0;
    CheckSameText(bare);
  }
}

}  // namespace iothub::http
