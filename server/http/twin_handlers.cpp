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

void WriteTwin(httplib::Response& res, const Result<std::pair<Device, TwinDocument>>& twin) {
  if (!twin.ok()) return WriteError(res, twin.status());
  res.set_header("ETag", "\"" + twin->second.etag() + "\"");
  WriteJson(res, 200, TwinToJson(twin->first, twin->second));
}

// Twin writes take If-Match with the twin's etag or "*"; without it, as "*".
Precondition TwinPrecondition(const httplib::Request& req) {
  if (!req.has_header("If-Match")) return {Precondition::Kind::kAny, {}};
  std::string v = req.get_header_value("If-Match");
  if (v.starts_with("W/")) v.erase(0, 2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v == "*") return {Precondition::Kind::kAny, {}};
  return {Precondition::Kind::kEtag, v};
}

template <typename Write>
void WriteWith(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res, Write write) {
  const std::string id = req.matches[1];
  if (!Authorize(ctx, req, res, "twins/" + id, kServiceConnect | kRegistryWrite)) return;
  auto body = ParseJsonValue(req.body);
  if (!body.ok()) return WriteError(res, body.status());
  WriteTwin(res, write(id, *body, TwinPrecondition(req)));
}

}  // namespace

void GetTwin(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (!Authorize(ctx, req, res, "twins/" + id, kServiceConnect | kRegistryRead)) return;
  WriteTwin(res, ctx.twins.Get(id));
}

void PatchTwin(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  WriteWith(ctx, req, res, [&](const std::string& id, const json& body, const Precondition& p) {
    return ctx.twins.Patch(id, body, p);
  });
}

void ReplaceTwin(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  WriteWith(ctx, req, res, [&](const std::string& id, const json& body, const Precondition& p) {
    return ctx.twins.Replace(id, body, p);
  });
}

}  // namespace iothub::http
