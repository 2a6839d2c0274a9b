#include "http/event_json.h"

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/json_parse.h"
#include "core/time_format.h"

namespace iothub::http {
namespace {

using nlohmann::json;

bool IsUtf8(const std::string& s) {
  // nlohmann refuses to dump invalid UTF-8, which makes a fine validator.
  try {
    (void)json(s).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

}  // namespace

json EventToJson(const Event& e) {
  json j = {
      {"partition", e.partition},
      {"sequenceNumber", e.sequence_number},
      {"offset", std::to_string(e.offset)},
      {"enqueuedTimeUtc", FormatIso8601(e.enqueued_time)},
  };
  const bool says_json = e.properties.content_type && e.properties.content_type->find("json") != std::string::npos;
  // A stored event is data: a body that is not JSON after all, or nests too deep, is shown as text.
  ParsedJson parsed;
  if (says_json) parsed = ParseJson(e.body);
  if (says_json && parsed.ok()) {
    j["body"] = std::move(parsed.value);
    j["bodyEncoding"] = "json";
  } else if (IsUtf8(e.body)) {
    j["body"] = e.body;
    j["bodyEncoding"] = "text";
  } else {
    j["body"] = crypto::Base64Encode(e.body);
    j["bodyEncoding"] = "base64";
  }

  json props = json::object();
  auto put = [&](const char* name, const std::optional<std::string>& v) {
    if (v) props[name] = *v;
  };
  put("messageId", e.properties.message_id);
  put("correlationId", e.properties.correlation_id);
  put("userId", e.properties.user_id);
  put("contentType", e.properties.content_type);
  put("contentEncoding", e.properties.content_encoding);
  put("absoluteExpiryTime", e.properties.absolute_expiry_time);
  j["properties"] = std::move(props);

  json app = json::object();
  for (const auto& [k, v] : e.application_properties) app[k] = v;
  j["applicationProperties"] = std::move(app);

  json annotations = json::object();
  for (const auto& [k, v] : e.annotations) annotations[k] = v;
  annotations["iothub-enqueuedtime"] = FormatIso8601(e.enqueued_time);
  annotations["x-opt-sequence-number"] = e.sequence_number;
  annotations["x-opt-offset"] = std::to_string(e.offset);
  annotations["x-opt-enqueued-time"] = FormatIso8601(e.enqueued_time);
  j["annotations"] = std::move(annotations);
  return j;
}

std::string EventToJsonText(const Event& event) {
  // The front ends refuse properties that are not UTF-8, but an event may come from
  // elsewhere (a store written by an older version): such bytes become U+FFFD rather
  // than making the dump throw.
  return EventToJson(event).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace iothub::http
