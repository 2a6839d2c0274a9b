#include <charconv>
#include <nlohmann/json.hpp>

#include "http/device_json.h"
#include "core/json_parse.h"
#include "http/error_response.h"
#include "http/handlers.h"
#include "http/request_auth.h"

namespace iothub::http {
namespace {

using nlohmann::json;

std::string Unquote(std::string v) {
  if (v.starts_with("W/")) v.erase(0, 2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

Precondition PreconditionOf(const HttpRequest& req) {
  if (const std::string* if_match = req.headers.Find("If-Match")) {
    std::string etag = Unquote(*if_match);
    if (etag == "*") return {Precondition::Kind::kAny, {}};
    return {Precondition::Kind::kEtag, etag};
  }
  const std::string* if_none_match = req.headers.Find("If-None-Match");
  if (if_none_match && Unquote(*if_none_match) == "*") return {Precondition::Kind::kIfNoneMatch, {}};
  return {};
}

HttpResponse DeviceResponse(const Device& device) {
  HttpResponse res = JsonResponse(200, DeviceToJson(device));
  res.headers.Set("ETag", "\"" + device.etag() + "\"");
  return res;
}

}  // namespace

void PutDevice(const HttpContext& ctx, const HttpRequest& req, ResponseCallback done) {
  const std::string& id = req.RouteParam("deviceId");
  if (Status s = Authorize(ctx, req, "devices/" + id, kRegistryWrite); !s.ok()) return done(ErrorResponse(s));
  auto body = ParseJsonValue(req.body);
  if (!body.ok()) return done(ErrorResponse(body.status()));
  auto spec = DeviceSpecFromJson(*body, "deviceId");
  if (!spec.ok()) return done(ErrorResponse(spec.status()));
  if (spec->device_id.empty()) {
    spec.value().device_id = id;
  } else if (spec->device_id != id) {
    return done(ErrorResponse(Status::ArgumentInvalid("deviceId '" + spec->device_id +
                                                      "' in the body does not match '" + id + "' in the path")));
  }
  // Answered once durable, from the thread that commits it with the writes beside it.
  ctx.registry.Put(std::move(spec).value(), PreconditionOf(req), [done = std::move(done)](Result<Device> device) {
    done(device.ok() ? DeviceResponse(*device) : ErrorResponse(device.status()));
  });
}

HttpResponse GetDevice(const HttpContext& ctx, const HttpRequest& req) {
  const std::string& id = req.RouteParam("deviceId");
  if (Status s = Authorize(ctx, req, "devices/" + id, kRegistryRead); !s.ok()) return ErrorResponse(s);
  auto device = ctx.registry.Get(id);
  if (!device.ok()) return ErrorResponse(device.status());
  return DeviceResponse(*device);
}

void DeleteDevice(const HttpContext& ctx, const HttpRequest& req, ResponseCallback done) {
  const std::string& id = req.RouteParam("deviceId");
  if (Status s = Authorize(ctx, req, "devices/" + id, kRegistryWrite); !s.ok()) return done(ErrorResponse(s));
  Precondition precondition = PreconditionOf(req);
  if (precondition.kind == Precondition::Kind::kIfNoneMatch) precondition = {};
  ctx.registry.Delete(id, std::move(precondition), [done = std::move(done)](Status s) {
    if (!s.ok()) return done(ErrorResponse(s));
    HttpResponse res;
    res.status = 204;
    done(std::move(res));
  });
}

HttpResponse ListDevices(const HttpContext& ctx, const HttpRequest& req) {
  if (Status s = Authorize(ctx, req, "devices", kRegistryRead); !s.ok()) return ErrorResponse(s);
  size_t top = Registry::kMaxListSize;
  if (auto text = req.Query("top")) {
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), top);
    if (ec != std::errc() || end != text->data() + text->size() || top == 0) {
      return ErrorResponse(Status::ArgumentInvalid("'top' must be a positive integer, not '" + *text + "'"));
    }
  }
  json devices = json::array();
  for (const Device& d : ctx.registry.List(top)) devices.push_back(DeviceToJson(d));
  return JsonResponse(200, devices);
}

void BulkDevices(const HttpContext& ctx, const HttpRequest& req, ResponseCallback done) {
  if (Status s = Authorize(ctx, req, "devices", kRegistryWrite); !s.ok()) return done(ErrorResponse(s));
  auto body = ParseJsonValue(req.body);
  if (!body.ok()) return done(ErrorResponse(body.status()));
  if (!body->is_array()) return done(ErrorResponse(Status::ArgumentInvalid("The body must be an array of devices")));
  std::vector<BulkItem> items;
  for (const json& entry : *body) {
    auto item = BulkItemFromJson(entry);
    if (!item.ok()) return done(ErrorResponse(item.status()));
    items.push_back(std::move(item).value());
  }
  ctx.registry.Bulk(std::move(items), [done = std::move(done)](Result<BulkResult> result) {
    done(result.ok() ? JsonResponse(200, BulkResultToJson(*result)) : ErrorResponse(result.status()));
  });
}

}  // namespace iothub::http
