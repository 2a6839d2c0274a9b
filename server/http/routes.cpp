#include "http/routes.h"

#include <vector>

#include "http/handlers.h"
#include "http/router.h"

namespace iothub::http {
namespace {

struct Route {
  RoutePattern pattern;
  RouteHandler handler;
};

using enum HttpMethod;

// Any api-version is accepted (spec §4.1).
const Route kRoutes[] = {
    {{kGet, "/health"}, PlainHandler{GetHealth}},
    {{kGet, "/devices"}, PlainHandler{ListDevices}},
    {{kPost, "/devices"}, AsyncHandler{BulkDevices}},
    {{kPut, "/devices/{deviceId}"}, AsyncHandler{PutDevice}},
    {{kGet, "/devices/{deviceId}"}, PlainHandler{GetDevice}},
    {{kDelete, "/devices/{deviceId}"}, AsyncHandler{DeleteDevice}},
    {{kGet, "/twins/{deviceId}"}, PlainHandler{GetTwin}},
    {{kPatch, "/twins/{deviceId}"}, PlainHandler{PatchTwin}},
    {{kPut, "/twins/{deviceId}"}, PlainHandler{ReplaceTwin}},
    {{kPost, "/twins/{deviceId}/methods"}, AsyncHandler{InvokeMethod}},
    {{kDelete, "/devices/{deviceId}/commands"}, PlainHandler{PurgeCloudToDevice}},
    {{kGet, "/statistics/devices"}, PlainHandler{GetDeviceStatistics}},
    {{kGet, "/statistics/service"}, PlainHandler{GetServiceStatistics}},
    // Emulator-only endpoints live under /emulator/, apart from IoT Hub's own API.
    {{kGet, "/emulator/events"}, PlainHandler{ListEvents}},
    {{kGet, "/emulator/events/stream"}, StreamingHandler{StreamEvents}},
    {{kPost, "/emulator/devices/{deviceId}/messages"}, PlainHandler{SendCloudToDevice}},
    {{kGet, "/emulator/consumerGroups"}, PlainHandler{ListConsumerGroups}},
    {{kPut, "/emulator/consumerGroups/{name}"}, PlainHandler{PutConsumerGroup}},
    {{kDelete, "/emulator/consumerGroups/{name}"}, PlainHandler{DeleteConsumerGroup}},
};

const Router& ApiRouter() {
  static const Router router = [] {
    std::vector<RoutePattern> patterns;
    for (const Route& route : kRoutes) patterns.push_back(route.pattern);
    return Router(patterns);
  }();
  return router;
}

}  // namespace

Result<RoutedRequest> RouteApiRequest(std::string_view method, std::string_view raw_path) {
  auto match = ApiRouter().Match(method, raw_path);
  if (!match.ok()) return match.status();
  return RoutedRequest{kRoutes[match->route].handler, std::move(match).value().params};
}

}  // namespace iothub::http
