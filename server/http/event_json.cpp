#include "http/event_json.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/json_parse.h"
#include "core/time_format.h"

namespace iothub::http {
namespace {

using nlohmann::json;

bool IsUtf8(const std::string& s) {
  // Most bodies are ASCII, which is UTF-8: no need to write them out to find that.
  if (std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; })) return true;
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
  const std::string enqueued = FormatIso8601(e.enqueued_time);
  json j = {
      {"partition", e.partition},
      {"sequenceNumber", e.sequence_number},
      {"offset", std::to_string(e.offset)},
      {"enqueuedTimeUtc", enqueued},
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
  annotations["iothub-enqueuedtime"] = enqueued;
  annotations["x-opt-sequence-number"] = e.sequence_number;
  annotations["x-opt-offset"] = std::to_string(e.offset);
  annotations["x-opt-enqueued-time"] = enqueued;
  j["annotations"] = std::move(annotations);
  return j;
}

// EventToJsonText writes the text straight, without building the document: it is made
// for every event a live reader gets, and the document's allocations were most of a
// reader's cost. Its output is byte for byte EventToJson's dump (unit and fuzz tests
// hold it to that): keys in the same (sorted) order, a later duplicate winning, and
// the same escaping, which nlohmann does for any string beyond the plain ASCII case.
namespace {

void AppendString(std::string& out, std::string_view s) {
  // Plain ASCII needs only quotes and backslashes escaped: copy the runs between them.
  // Anything else (control characters, DEL, non-ASCII, bytes that are not UTF-8) is
  // nlohmann's to write, so that the escapes are exactly its own.
  const size_t start = out.size();
  out += '"';
  size_t run = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c < 0x20 || c >= 0x7f) {
      out.resize(start);
      out += json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
      return;
    }
    if (c == '"' || c == '\\') {
      out.append(s.data() + run, i - run);
      out += '\\';
      run = i;
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void AppendInteger(std::string& out, int64_t n) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, n).ptr);
}

// An object of string members, written in key order: later duplicates win, as in a map.
// `last`: members given as JSON text, after (and so over) `members`.
void AppendObject(std::string& out, const Properties& members,
                  std::initializer_list<std::pair<std::string_view, std::string_view>> last = {}) {
  struct Member {
    std::string_view key, value;
    bool is_json;
  };
  std::vector<Member> all;
  all.reserve(members.size() + last.size());
  for (const auto& [k, v] : members) all.push_back({k, v, false});
  for (const auto& [k, text] : last) all.push_back({k, text, true});
  // Stable: of equal keys, the one added last stays last, and it is the one kept.
  std::stable_sort(all.begin(), all.end(), [](const Member& a, const Member& b) { return a.key < b.key; });
  out += '{';
  bool first = true;
  for (size_t i = 0; i < all.size(); ++i) {
    if (i + 1 < all.size() && all[i + 1].key == all[i].key) continue;
    if (!first) out += ',';
    first = false;
    AppendString(out, all[i].key);
    out += ':';
    if (all[i].is_json) {
      out += all[i].value;
    } else {
      AppendString(out, all[i].value);
    }
  }
  out += '}';
}

}  // namespace

std::string EventToJsonText(const Event& e) {
  std::string enqueued, offset, sequence;
  AppendString(enqueued, FormatIso8601(e.enqueued_time));
  AppendString(offset, std::to_string(e.offset));
  AppendInteger(sequence, e.sequence_number);

  std::string out;
  out.reserve(512 + e.body.size() * 2);
  // The members in key order, as nlohmann's map keeps them.
  out += "{\"annotations\":";
  AppendObject(out, e.annotations,
               {{"iothub-enqueuedtime", enqueued}, {"x-opt-sequence-number", sequence}, {"x-opt-offset", offset},
                {"x-opt-enqueued-time", enqueued}});
  out += ",\"applicationProperties\":";
  AppendObject(out, e.application_properties);

  out += ",\"body\":";
  const bool says_json = e.properties.content_type && e.properties.content_type->find("json") != std::string::npos;
  ParsedJson parsed;
  if (says_json) parsed = ParseJson(e.body);
  if (says_json && parsed.ok()) {
    out += parsed.value.dump(-1, ' ', false, json::error_handler_t::replace);
    out += ",\"bodyEncoding\":\"json\"";
  } else if (IsUtf8(e.body)) {
    AppendString(out, e.body);
    out += ",\"bodyEncoding\":\"text\"";
  } else {
    AppendString(out, crypto::Base64Encode(e.body));
    out += ",\"bodyEncoding\":\"base64\"";
  }
  out += ",\"enqueuedTimeUtc\":" + enqueued;
  out += ",\"offset\":" + offset;
  out += ",\"partition\":";
  AppendInteger(out, e.partition);

  out += ",\"properties\":{";
  bool first = true;
  // In key order: absoluteExpiryTime, contentEncoding, contentType, correlationId, messageId, userId.
  for (const auto& [name, value] :
       {std::pair{"absoluteExpiryTime", &e.properties.absolute_expiry_time},
        std::pair{"contentEncoding", &e.properties.content_encoding},
        std::pair{"contentType", &e.properties.content_type},
        std::pair{"correlationId", &e.properties.correlation_id},
        std::pair{"messageId", &e.properties.message_id}, std::pair{"userId", &e.properties.user_id}}) {
    if (!*value) continue;
    if (!first) out += ',';
    first = false;
    out += '"';
    out += name;
    out += "\":";
    AppendString(out, **value);
  }
  out += "},\"sequenceNumber\":" + sequence + '}';
  return out;
}

}  // namespace iothub::http
