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
HttpResponse SendCloudToDevice(const HttpContext& ctx, const HttpRequest& req) {
  const std::string& id = req.RouteParam("deviceId");
  if (Status s = Authorize(ctx, req, "devices/" + id, kServiceConnect); !s.ok()) return ErrorResponse(s);
  auto body = ParseJsonValue(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  auto m = CloudToDeviceMessageFromJson(*body, id);
  if (!m.ok()) return ErrorResponse(m.status());
  auto sequence = ctx.cloud_to_device.Send(std::move(m).value());
  if (!sequence.ok()) return ErrorResponse(sequence.status());
  return JsonResponse(200,
                      {{"deviceId", id}, {"sequenceNumber", *sequence}, {"queued", ctx.cloud_to_device.Count(id)}});
}

// DELETE /devices/{id}/commands
HttpResponse PurgeCloudToDevice(const HttpContext& ctx, const HttpRequest& req) {
  const std::string& id = req.RouteParam("deviceId");
  if (Status s = Authorize(ctx, req, "devices/" + id, kServiceConnect); !s.ok()) return ErrorResponse(s);
  auto purged = ctx.cloud_to_device.Purge(id);
  if (!purged.ok()) return ErrorResponse(purged.status());
  return JsonResponse(200, {{"totalMessagesPurged", *purged}, {"deviceId", id}, {"moduleId", nullptr}});
}

}  // namespace iothub::http
