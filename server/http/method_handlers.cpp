// POST /twins/{id}/methods: invoke a direct method (spec §4.2).
#include <nlohmann/json.hpp>

#include "core/json_parse.h"
#include "http/error_response.h"
#include "http/handlers.h"
#include "http/request_auth.h"

namespace iothub::http {
namespace {

using nlohmann::json;

// An optional whole number of seconds in [min, max]; the default when absent.
Result<std::chrono::seconds> Seconds(const json& body, const char* name, int fallback, int min, int max) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::chrono::seconds(fallback);
  if (!it->is_number_integer() || it->get<int64_t>() < min || it->get<int64_t>() > max) {
    return Status::ArgumentInvalid(std::string("'") + name + "' must be a whole number of seconds from " +
                                   std::to_string(min) + " to " + std::to_string(max));
  }
  return std::chrono::seconds(it->get<int64_t>());
}

}  // namespace

void InvokeMethod(const HttpContext& ctx, const HttpRequest& req, ResponseCallback done) {
  const std::string& id = req.RouteParam("deviceId");
  if (Status s = Authorize(ctx, req, "twins/" + id, kServiceConnect); !s.ok()) return done(ErrorResponse(s));
  auto parsed = ParseJsonValue(req.body);
  if (!parsed.ok()) return done(ErrorResponse(parsed.status()));
  const json& body = *parsed;
  if (!body.is_object()) return done(ErrorResponse(Status::ArgumentInvalid("The body must be a JSON object")));
  auto name = body.find("methodName");
  if (name == body.end() || !name->is_string() || name->get<std::string>().empty()) {
    return done(ErrorResponse(Status::ArgumentInvalid("'methodName' is required")));
  }
  auto response_timeout = Seconds(body, "responseTimeoutInSeconds", 30, 5, 300);
  if (!response_timeout.ok()) return done(ErrorResponse(response_timeout.status()));
  auto connect_timeout = Seconds(body, "connectTimeoutInSeconds", 0, 0, 300);
  if (!connect_timeout.ok()) return done(ErrorResponse(connect_timeout.status()));

  MethodCall call;
  call.method_name = name->get<std::string>();
  call.payload_json = body.contains("payload") ? body.at("payload").dump() : "null";
  call.response_timeout = *response_timeout;
  call.connect_timeout = *connect_timeout;
  // The call ends on whichever thread settles it (the device's answer, a timer); the
  // request is not touched after this, so it may be gone by then.
  ctx.methods.Invoke(id, call, [done = std::move(done)](Result<MethodResult> result) {
    if (!result.ok()) return done(ErrorResponse(result.status()));
    // The device's payload is JSON as a rule; anything else (or too deep) is passed on as a string.
    ParsedJson parsed_payload = ParseJson(result->payload_json);
    json payload = parsed_payload.ok() ? std::move(parsed_payload.value) : json(result->payload_json);
    done(JsonResponse(200, {{"status", result->status}, {"payload", payload}}));
  });
}

}  // namespace iothub::http
