#include <nlohmann/json.hpp>

#include "http/error_response.h"
#include "http/handlers.h"
#include "http/request_auth.h"

namespace iothub::http {

void GetDeviceStatistics(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  if (!Authorize(ctx, req, res, "statistics/devices", kRegistryRead)) return;
  DeviceCounts counts = ctx.registry.Statistics();
  WriteJson(res, 200,
            {{"totalDeviceCount", counts.total},
             {"enabledDeviceCount", counts.enabled},
             {"disabledDeviceCount", counts.disabled}});
}

void GetServiceStatistics(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  if (!Authorize(ctx, req, res, "statistics/service", kServiceConnect | kRegistryRead)) return;
  WriteJson(res, 200, {{"connectedDeviceCount", ctx.connections.ConnectedCount()}});
}

void GetHealth(const HttpContext&, const httplib::Request&, httplib::Response& res) {
  WriteJson(res, 200, {{"status", "healthy"}});
}

}  // namespace iothub::http
