#include "mqtt/iothub_topics.h"

#include <charconv>

#include "core/url_encoding.h"
#include "mqtt/codec/mqtt_codec.h"

namespace iothub::mqtt {

std::optional<Username> ParseUsername(std::string_view username) {
  size_t slash = username.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  Username u;
  u.host = std::string(username.substr(0, slash));
  std::string_view rest = username.substr(slash + 1);

  // The identity path ends where the query starts: at "/?", at "?", or (old C
  // SDKs) at "/api-version=".
  std::string_view path = rest, query;
  for (std::string_view marker : {"/?", "?", "/api-version="}) {
    size_t at = rest.find(marker);
    if (at != std::string_view::npos) {
      path = rest.substr(0, at);
      query = rest.substr(at + (marker == "/api-version=" ? 1 : marker.size()));
      break;
    }
  }
  while (path.ends_with('/')) path.remove_suffix(1);
  size_t module_slash = path.find('/');
  u.device_id = std::string(path.substr(0, module_slash));
  if (module_slash != std::string_view::npos) {
    u.module_id = std::string(path.substr(module_slash + 1));
    if (u.module_id->empty() || u.module_id->find('/') != std::string::npos) return std::nullopt;
  }
  if (u.device_id.empty()) return std::nullopt;

  // model-id arrives unencoded from Node (it holds ':' and ';'), encoded from others.
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (!pair.starts_with("model-id=")) continue;
    // A decoding that is not UTF-8 ("%FF") could not be written as the event's JSON: keep the text as sent.
    auto decoded = UrlDecode(pair.substr(9));
    u.model_id = decoded && IsValidMqttUtf8(*decoded) ? *decoded : std::string(pair.substr(9));
  }
  return u;
}

std::string ClientIdOf(const Username& u) { return u.module_id ? u.device_id + "/" + *u.module_id : u.device_id; }

std::optional<Properties> DecodePropertyBag(std::string_view bag) {
  Properties out;
  while (!bag.empty()) {
    size_t amp = bag.find('&');
    std::string_view pair = bag.substr(0, amp);
    bag = amp == std::string_view::npos ? std::string_view() : bag.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto key = UrlDecode(pair.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::optional<std::string>("") : UrlDecode(pair.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

std::optional<Result<TelemetryTopic>> ParseTelemetryTopic(std::string_view topic, std::string_view device_id) {
  const std::string prefix = "devices/" + std::string(device_id) + "/messages/events";
  if (!topic.starts_with(prefix)) return std::nullopt;
  std::string_view bag = topic.substr(prefix.size());
  if (!bag.empty() && bag.front() != '/') return std::nullopt;
  if (!bag.empty()) bag.remove_prefix(1);
  if (bag.ends_with('/')) bag.remove_suffix(1);  // module output events end with '/'

  auto pairs = DecodePropertyBag(bag);
  if (!pairs) return Result<TelemetryTopic>(Status::ArgumentInvalid("Malformed URL encoding in the property bag"));
  // The topic is UTF-8 but its escapes may not be ("%FF"): such a property could
  // not be stored or written as JSON (nlohmann refuses to dump it), so refuse it here.
  for (const auto& [key, value] : *pairs) {
    if (!IsValidMqttUtf8(key) || !IsValidMqttUtf8(value)) {
      return Result<TelemetryTopic>(Status::ArgumentInvalid("A property of the property bag is not UTF-8"));
    }
  }
  TelemetryTopic t;
  TelemetryMessage& m = t.message;
  for (auto& [key, value] : *pairs) {
    if (!key.starts_with("$.")) {
      m.application_properties.emplace_back(std::move(key), std::move(value));
    } else if (key == "$.mid") {
      m.properties.message_id = value;
    } else if (key == "$.cid") {
      m.properties.correlation_id = value;
    } else if (key == "$.uid") {
      m.properties.user_id = value;
    } else if (key == "$.ct") {
      m.properties.content_type = value;
    } else if (key == "$.ce") {
      m.properties.content_encoding = value;
    } else if (key == "$.exp") {
      m.properties.absolute_expiry_time = value;
    } else if (key == "$.ctime") {
      m.creation_time = value;
    } else if (key == "$.sub") {
      m.component = value;
    } else if (key == "$.ifid") {
      m.interface_id = value;
    }
    // Other system properties ($.to, $.on, $.schema, diagnostics) do not travel with telemetry.
  }
  return Result<TelemetryTopic>(std::move(t));
}

std::string CloudToDeviceTopic(const CloudToDeviceMessage& m) {
  std::string bag;
  auto add = [&bag](const std::string& key, const std::optional<std::string>& value) {
    if (!value) return;
    bag += (bag.empty() ? "" : "&") + UrlEncodeComponent(key) + "=" + UrlEncodeComponent(*value);
  };
  add("$.mid", m.properties.message_id);
  add("$.to", "/devices/" + m.device_id + "/messages/devicebound");
  add("$.cid", m.properties.correlation_id);
  add("$.uid", m.properties.user_id);
  add("$.ct", m.properties.content_type);
  add("$.ce", m.properties.content_encoding);
  for (const auto& [k, v] : m.application_properties) add(k, v);
  return "devices/" + m.device_id + "/messages/devicebound/" + bag;
}

std::optional<Feed> FeedOfFilter(std::string_view filter, std::string_view device_id) {
  if (filter == "devices/" + std::string(device_id) + "/messages/devicebound/#") return Feed::kCloudToDevice;
  if (filter == "$iothub/methods/POST/#") return Feed::kMethods;
  if (filter == "$iothub/twin/res/#") return Feed::kTwinResponses;
  if (filter == "$iothub/twin/PATCH/properties/desired/#") return Feed::kDesiredProperties;
  return std::nullopt;
}

namespace {

// The value of `$rid=` in a topic's query, up to the next '&'.
std::optional<std::string> RequestIdOf(std::string_view topic) {
  size_t at = topic.find("$rid=");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rid = topic.substr(at + 5);
  return std::string(rid.substr(0, rid.find('&')));
}

}  // namespace

std::optional<TwinRequestTopic> ParseTwinRequestTopic(std::string_view topic) {
  constexpr std::string_view kGet = "$iothub/twin/GET/";
  constexpr std::string_view kReported = "$iothub/twin/PATCH/properties/reported/";
  const bool get = topic.starts_with(kGet);
  if (!get && !topic.starts_with(kReported)) return std::nullopt;
  auto rid = RequestIdOf(topic);
  if (!rid) return std::nullopt;
  return TwinRequestTopic{get, std::move(*rid)};
}

std::string TwinResponseTopic(int status, std::string_view request_id, std::optional<int64_t> version) {
  std::string topic = "$iothub/twin/res/" + std::to_string(status) + "/?$rid=" + std::string(request_id);
  if (version) topic += "&$version=" + std::to_string(*version);
  return topic;
}

std::optional<MethodResponseTopic> ParseMethodResponseTopic(std::string_view topic) {
  constexpr std::string_view kPrefix = "$iothub/methods/res/";
  if (!topic.starts_with(kPrefix)) return std::nullopt;
  topic.remove_prefix(kPrefix.size());
  size_t slash = topic.find('/');
  auto rid = RequestIdOf(topic);
  if (slash == std::string_view::npos || !rid) return std::nullopt;
  int status = 0;
  auto [end, ec] = std::from_chars(topic.data(), topic.data() + slash, status);
  if (ec != std::errc() || end != topic.data() + slash) return std::nullopt;
  return MethodResponseTopic{status, std::move(*rid)};
}

std::string MethodRequestTopic(std::string_view method_name, std::string_view request_id) {
  return "$iothub/methods/POST/" + std::string(method_name) + "/?$rid=" + std::string(request_id);
}

std::string DesiredPropertiesTopic(int64_t version) {
  return "$iothub/twin/PATCH/properties/desired/?$version=" + std::to_string(version);
}

}  // namespace iothub::mqtt
