// GET, PATCH and PUT /twins/{id} (spec §4.2): the service side of device twins.
#include <nlohmann/json.hpp>

#include "core/json_parse.h"
#include "http/error_response.h"
#include "http/handlers.h"
#include "http/request_auth.h"
#include "http/twin_json.h"

namespace iothub::http {
namespace {

using nlohmann::json;

HttpResponse TwinResponse(const Result<std::pair<Device, TwinDocument>>& twin) {
  if (!twin.ok()) return ErrorResponse(twin.status());
  HttpResponse res = JsonResponse(200, TwinToJson(twin->first, twin->second));
  res.headers.Set("ETag", "\"" + twin->second.etag() + "\"");
  return res;
}

// Twin writes take If-Match with the twin's etag or "*"; without it, as "*".
Precondition TwinPrecondition(const HttpRequest& req) {
  const std::string* if_match = req.headers.Find("If-Match");
  if (!if_match) return {Precondition::Kind::kAny, {}};
  std::string v = *if_match;
  if (v.starts_with("W/")) v.erase(0, 2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v == "*") return {Precondition::Kind::kAny, {}};
  return {Precondition::Kind::kEtag, v};
}

template <typename Write>
HttpResponse WriteWith(const HttpContext& ctx, const HttpRequest& req, Write write) {
  const std::string& id = req.RouteParam("deviceId");
  if (Status s = Authorize(ctx, req, "twins/" + id, kServiceConnect | kRegistryWrite); !s.ok()) {
    return ErrorResponse(s);
  }
  auto body = ParseJsonValue(req.body);
  if (!body.ok()) return ErrorResponse(body.status());
  return TwinResponse(write(id, *body, TwinPrecondition(req)));
}

}  // namespace

HttpResponse GetTwin(const HttpContext& ctx, const HttpRequest& req) {
  const std::string& id = req.RouteParam("deviceId");
  if (Status s = Authorize(ctx, req, "twins/" + id, kServiceConnect | kRegistryRead); !s.ok()) {
    return ErrorResponse(s);
  }
  return TwinResponse(ctx.twins.Get(id));
}

HttpResponse PatchTwin(const HttpContext& ctx, const HttpRequest& req) {
  return WriteWith(ctx, req, [&](const std::string& id, const json& body, const Precondition& p) {
    return ctx.twins.Patch(id, body, p);
  });
}

HttpResponse ReplaceTwin(const HttpContext& ctx, const HttpRequest& req) {
  return WriteWith(ctx, req, [&](const std::string& id, const json& body, const Precondition& p) {
    return ctx.twins.Replace(id, body, p);
  });
}

}  // namespace iothub::http
