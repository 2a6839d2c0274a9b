// The emulator's own API for the Event Hub-compatible endpoint's consumer groups
// (in Azure they are made through Azure Resource Manager, which the emulator has not).
//
// Who may: reading the list needs ServiceConnect, as reading the events does (the
// `service` policy a back end uses). Creating and deleting a group changes the hub,
// as Azure's management plane does, which no IoT Hub policy short of the owner's can:
// it needs RegistryWrite and ServiceConnect both, which only `iothubowner` has.
#include <nlohmann/json.hpp>

#include "http/error_response.h"
#include "http/handlers.h"
#include "http/request_auth.h"

namespace iothub::http {
namespace {

constexpr std::string_view kTarget = "messages/events";

nlohmann::json ToJson(const ConsumerGroup& g) {
  return {{"name", g.name}, {"source", ConsumerGroupSourceName(g.source)}};
}

Status AuthorizeWrite(const HttpContext& ctx, const HttpRequest& req) {
  if (Status s = Authorize(ctx, req, kTarget, kRegistryWrite); !s.ok()) return s;
  return Authorize(ctx, req, kTarget, kServiceConnect);
}

}  // namespace

// GET /emulator/consumerGroups
HttpResponse ListConsumerGroups(const HttpContext& ctx, const HttpRequest& req) {
  if (Status s = Authorize(ctx, req, kTarget, kServiceConnect); !s.ok()) return ErrorResponse(s);
  nlohmann::json groups = nlohmann::json::array();
  for (const ConsumerGroup& g : ctx.consumer_groups.List()) groups.push_back(ToJson(g));
  return JsonResponse(200, groups);
}

// PUT /emulator/consumerGroups/{name}: no body needed; 409 when it exists.
HttpResponse PutConsumerGroup(const HttpContext& ctx, const HttpRequest& req) {
  if (Status s = AuthorizeWrite(ctx, req); !s.ok()) return ErrorResponse(s);
  auto created = ctx.consumer_groups.Create(req.RouteParam("name"));
  if (!created.ok()) return ErrorResponse(created.status());
  return JsonResponse(200, ToJson(*created));
}

// DELETE /emulator/consumerGroups/{name}: 204; 404 when unknown, 400 for $Default and configured groups.
HttpResponse DeleteConsumerGroup(const HttpContext& ctx, const HttpRequest& req) {
  if (Status s = AuthorizeWrite(ctx, req); !s.ok()) return ErrorResponse(s);
  if (Status s = ctx.consumer_groups.Delete(req.RouteParam("name")); !s.ok()) return ErrorResponse(s);
  HttpResponse res;
  res.status = 204;
  return res;
}

}  // namespace iothub::http
