// Cloud-to-device messages over REST: IoT Hub's purge, and the emulator's own
// send endpoint (until the AMQP endpoint gives the service SDK its send path).
#include <nlohmann/json.hpp>

#include "core/json_parse.h"
#include "http/cloud_to_device_json.h"
#include "http/error_response.h"
#include "http/handlers.h"
#include "http/request_auth.h"

namespace iothub::http {

// POST /emulator/devices/{id}/messages, with the body of http/cloud_to_device_json.h
void SendCloudToDevice(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (!Authorize(ctx, req, res, "devices/" + id, kServiceConnect)) return;
  auto body = ParseJsonValue(req.body);
  if (!body.ok()) return WriteError(res, body.status());
  auto m = CloudToDeviceMessageFromJson(*body, id);
  if (!m.ok()) return WriteError(res, m.status());
  auto sequence = ctx.cloud_to_device.Send(std::move(m).value());
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
