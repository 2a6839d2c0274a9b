#include <nlohmann/json.hpp>

#include "http/error_response.h"
#include "http/handlers.h"
#include "http/request_auth.h"

namespace iothub::http {

HttpResponse GetDeviceStatistics(const HttpContext& ctx, const HttpRequest& req) {
  if (Status s = Authorize(ctx, req, "statistics/devices", kRegistryRead); !s.ok()) return ErrorResponse(s);
  DeviceCounts counts = ctx.registry.Statistics();
  return JsonResponse(200, {{"totalDeviceCount", counts.total},
                            {"enabledDeviceCount", counts.enabled},
                            {"disabledDeviceCount", counts.disabled}});
}

HttpResponse GetServiceStatistics(const HttpContext& ctx, const HttpRequest& req) {
  if (Status s = Authorize(ctx, req, "statistics/service", kServiceConnect | kRegistryRead); !s.ok()) {
    return ErrorResponse(s);
  }
  return JsonResponse(200, {{"connectedDeviceCount", ctx.connections.ConnectedCount()}});
}

HttpResponse GetHealth(const HttpContext&, const HttpRequest&) {
  return JsonResponse(200, {{"status", "healthy"}});
}

}  // namespace iothub::http
