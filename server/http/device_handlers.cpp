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

Precondition PreconditionOf(const httplib::Request& req) {
  if (req.has_header("If-Match")) {
    std::string etag = Unquote(req.get_header_value("If-Match"));
    if (etag == "*") return {Precondition::Kind::kAny, {}};
    return {Precondition::Kind::kEtag, etag};
  }
  if (req.has_header("If-None-Match") && Unquote(req.get_header_value("If-None-Match")) == "*") {
    return {Precondition::Kind::kIfNoneMatch, {}};
  }
  return {};
}

Result<json> ParseBody(const httplib::Request& req) { return ParseJsonValue(req.body); }

void WriteDevice(httplib::Response& res, const Device& device) {
  res.set_header("ETag", "\"" + device.etag() + "\"");
  WriteJson(res, 200, DeviceToJson(device));
}

}  // namespace

void PutDevice(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (!Authorize(ctx, req, res, "devices/" + id, kRegistryWrite)) return;
  auto body = ParseBody(req);
  if (!body.ok()) return WriteError(res, body.status());
  auto spec = DeviceSpecFromJson(*body, "deviceId");
  if (!spec.ok()) return WriteError(res, spec.status());
  if (spec->device_id.empty()) {
    spec.value().device_id = id;
  } else if (spec->device_id != id) {
    return WriteError(res, Status::ArgumentInvalid("deviceId '" + spec->device_id + "' in the body does not match '" +
                                                   id + "' in the path"));
  }
  auto device = ctx.registry.Put(*spec, PreconditionOf(req));
  if (!device.ok()) return WriteError(res, device.status());
  WriteDevice(res, *device);
}

void GetDevice(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (!Authorize(ctx, req, res, "devices/" + id, kRegistryRead)) return;
  auto device = ctx.registry.Get(id);
  if (!device.ok()) return WriteError(res, device.status());
  WriteDevice(res, *device);
}

void DeleteDevice(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (!Authorize(ctx, req, res, "devices/" + id, kRegistryWrite)) return;
  Precondition precondition = PreconditionOf(req);
  if (precondition.kind == Precondition::Kind::kIfNoneMatch) precondition = {};
  if (auto s = ctx.registry.Delete(id, precondition); !s.ok()) return WriteError(res, s);
  res.status = 204;
}

void ListDevices(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  if (!Authorize(ctx, req, res, "devices", kRegistryRead)) return;
  size_t top = Registry::kMaxListSize;
  if (req.has_param("top")) {
    const std::string text = req.get_param_value("top");
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), top);
    if (ec != std::errc() || end != text.data() + text.size() || top == 0) {
      return WriteError(res, Status::ArgumentInvalid("'top' must be a positive integer, not '" + text + "'"));
    }
  }
  json devices = json::array();
  for (const Device& d : ctx.registry.List(top)) devices.push_back(DeviceToJson(d));
  WriteJson(res, 200, devices);
}

void BulkDevices(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  if (!Authorize(ctx, req, res, "devices", kRegistryWrite)) return;
  auto body = ParseBody(req);
  if (!body.ok()) return WriteError(res, body.status());
  if (!body->is_array()) return WriteError(res, Status::ArgumentInvalid("The body must be an array of devices"));
  std::vector<BulkItem> items;
  for (const json& entry : *body) {
    auto item = BulkItemFromJson(entry);
    if (!item.ok()) return WriteError(res, item.status());
    items.push_back(std::move(item).value());
  }
  auto result = ctx.registry.Bulk(items);
  if (!result.ok()) return WriteError(res, result.status());
  WriteJson(res, 200, BulkResultToJson(*result));
}

}  // namespace iothub::http
