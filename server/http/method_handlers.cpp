// POST /twins/{id}/methods: invoke a direct method (spec §4.2).
#include <future>
#include <memory>

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

void InvokeMethod(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  if (!Authorize(ctx, req, res, "twins/" + id, kServiceConnect)) return;
  auto parsed = ParseJsonValue(req.body);
  if (!parsed.ok()) return WriteError(res, parsed.status());
  const json& body = *parsed;
  if (!body.is_object()) return WriteError(res, Status::ArgumentInvalid("The body must be a JSON object"));
  auto name = body.find("methodName");
  if (name == body.end() || !name->is_string() || name->get<std::string>().empty()) {
    return WriteError(res, Status::ArgumentInvalid("'methodName' is required"));
  }
  auto response_timeout = Seconds(body, "responseTimeoutInSeconds", 30, 5, 300);
  if (!response_timeout.ok()) return WriteError(res, response_timeout.status());
  auto connect_timeout = Seconds(body, "connectTimeoutInSeconds", 0, 0, 300);
  if (!connect_timeout.ok()) return WriteError(res, connect_timeout.status());

  MethodCall call;
  call.method_name = name->get<std::string>();
  call.payload_json = body.contains("payload") ? body.at("payload").dump() : "null";
  call.response_timeout = *response_timeout;
  call.connect_timeout = *connect_timeout;
  // cpp-httplib's handlers are blocking, so this one waits for the call's end (until issue 10 makes it async).
  auto promise = std::make_shared<std::promise<Result<MethodResult>>>();
  auto ended = promise->get_future();
  ctx.methods.Invoke(id, call, [promise](Result<MethodResult> r) { promise->set_value(std::move(r)); });
  Result<MethodResult> result = ended.get();
  if (!result.ok()) return WriteError(res, result.status());
  // The device's payload is JSON as a rule; anything else (or too deep) is passed on as a string.
  ParsedJson parsed_payload = ParseJson(result->payload_json);
  json payload = parsed_payload.ok() ? std::move(parsed_payload.value) : json(result->payload_json);
  WriteJson(res, 200, {{"status", result->status}, {"payload", payload}});
}

}  // namespace iothub::http
