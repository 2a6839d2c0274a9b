#include "http/cloud_to_device_json.h"

#include <nlohmann/json.hpp>

namespace iothub::http {
namespace {

using nlohmann::json;

Result<std::optional<std::string>> OptionalString(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return Status::ArgumentInvalid(std::string("'") + name + "' must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

}  // namespace

Result<CloudToDeviceMessage> CloudToDeviceMessageFromJson(const json& body, const std::string& device_id) {
  if (!body.is_object()) return Status::ArgumentInvalid("The body must be a JSON object");
  CloudToDeviceMessage m;
  m.device_id = device_id;
  const json& payload = body.contains("body") ? body["body"] : json(nullptr);
  m.body = payload.is_string() ? payload.get<std::string>() : payload.is_null() ? "" : payload.dump();
  struct Field {
    const char* name;
    std::optional<std::string>* target;
  };
  for (Field f : {Field{"messageId", &m.properties.message_id}, Field{"correlationId", &m.properties.correlation_id},
                  Field{"userId", &m.properties.user_id}, Field{"contentType", &m.properties.content_type},
                  Field{"contentEncoding", &m.properties.content_encoding}}) {
    auto value = OptionalString(body, f.name);
    if (!value.ok()) return value.status();
    *f.target = *value;
  }
  if (!m.properties.content_type && payload.is_structured()) m.properties.content_type = "application/json";
  auto ack = OptionalString(body, "ack");
  if (!ack.ok()) return ack.status();
  m.ack = ack->value_or("none");
  if (m.ack != "none" && m.ack != "positive" && m.ack != "negative" && m.ack != "full") {
    return Status::ArgumentInvalid("'ack' must be none, positive, negative or full");
  }
  if (body.contains("ttlSeconds")) {
    const json& ttl = body["ttlSeconds"];
    if (!ttl.is_number_integer() || ttl.get<int64_t>() < 1 || ttl.get<int64_t>() > 48 * 3600) {
      return Status::ArgumentInvalid("'ttlSeconds' must be a whole number from 1 to 172800");
    }
    m.expiry_time = Clock::now() + std::chrono::seconds(ttl.get<int64_t>());
  }
  if (body.contains("properties")) {
    if (!body["properties"].is_object()) return Status::ArgumentInvalid("'properties' must be an object");
    for (const auto& [k, v] : body["properties"].items()) {
      if (!v.is_string()) return Status::ArgumentInvalid("property '" + k + "' must be a string");
      // "$.ct" and the like are system properties on the device's topic: an application property may not pose as one.
      if (k.starts_with("$.")) return Status::ArgumentInvalid("property '" + k + "' may not start with '$.'");
      m.application_properties.emplace_back(k, v.get<std::string>());
    }
  }
  return m;
}

}  // namespace iothub::http
