// Cloud-to-device messages over REST: IoT Hub's purge, and the emulator's own
// send endpoint (until the AMQP endpoint gives the service SDK its send path).
#include <nlohmann/json.hpp>

#include "core/json_parse.h"
#include "http/error_response.h"
#include "http/handlers.h"
#include "http/request_auth.h"

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

// POST /emulator/devices/{id}/messages
// {"body": "text" or any JSON, "messageId", "correlationId", "userId", "contentType", "contentEncoding",
//  "ack": none|positive|negative|full, "ttlSeconds", "properties": {"k": "v"}}
void SendCloudToDevice(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (!Authorize(ctx, req, res, "devices/" + id, kServiceConnect)) return;
  auto parsed = ParseJsonValue(req.body);
  if (!parsed.ok()) return WriteError(res, parsed.status());
  const json& body = *parsed;
  if (!body.is_object()) return WriteError(res, Status::ArgumentInvalid("The body must be a JSON object"));

  CloudToDeviceMessage m;
  m.device_id = id;
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
    if (!value.ok()) return WriteError(res, value.status());
    *f.target = *value;
  }
  if (!m.properties.content_type && payload.is_structured()) m.properties.content_type = "application/json";
  auto ack = OptionalString(body, "ack");
  if (!ack.ok()) return WriteError(res, ack.status());
  m.ack = ack->value_or("none");
  if (m.ack != "none" && m.ack != "positive" && m.ack != "negative" && m.ack != "full") {
    return WriteError(res, Status::ArgumentInvalid("'ack' must be none, positive, negative or full"));
  }
  if (body.contains("ttlSeconds")) {
    const json& ttl = body["ttlSeconds"];
    if (!ttl.is_number_integer() || ttl.get<int64_t>() < 1 || ttl.get<int64_t>() > 48 * 3600) {
      return WriteError(res, Status::ArgumentInvalid("'ttlSeconds' must be a whole number from 1 to 172800"));
    }
    m.expiry_time = Clock::now() + std::chrono::seconds(ttl.get<int64_t>());
  }
  if (body.contains("properties")) {
    if (!body["properties"].is_object()) return WriteError(res, Status::ArgumentInvalid("'properties' must be an object"));
    for (const auto& [k, v] : body["properties"].items()) {
      if (!v.is_string()) return WriteError(res, Status::ArgumentInvalid("property '" + k + "' must be a string"));
      // "$.ct" and the like are system properties on the device's topic: an application property may not pose as one.
      if (k.starts_with("$.")) return WriteError(res, Status::ArgumentInvalid("property '" + k + "' may not start with '$.'"));
      m.application_properties.emplace_back(k, v.get<std::string>());
    }
  }
  auto sequence = ctx.cloud_to_device.Send(std::move(m));
  if (!sequence.ok()) return WriteError(res, sequence.status());
  WriteJson(res, 200, {{"deviceId", id}, {"sequenceNumber", *sequence}, {"queued", ctx.cloud_to_device.Count(id)}});
}

// DELETE /devices/{id}/commands
void PurgeCloudToDevice(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (!Authorize(ctx, req, res, "devices/" + id, kServiceConnect)) return;
  auto purged = ctx.cloud_to_device.Purge(id);
  if (!purged.ok()) return WriteError(res, purged.status());
  WriteJson(res, 200, {{"totalMessagesPurged", *purged}, {"deviceId", id}, {"moduleId", nullptr}});
}

}  // namespace iothub::http
