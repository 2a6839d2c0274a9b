#include <charconv>
#include <nlohmann/json.hpp>

#include "http/error_response.h"
#include "http/event_json.h"
#include "http/handlers.h"
#include "http/request_auth.h"

namespace iothub::http {
namespace {

// An optional integer query parameter: nullopt when absent, the 400 when it is not one in [min, max].
Result<std::optional<int64_t>> IntParam(const HttpRequest& req, const char* name, int64_t min, int64_t max) {
  auto text = req.Query(name);
  if (!text) return std::optional<int64_t>();
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < min || value > max) {
    return Status::ArgumentInvalid("'" + std::string(name) + "' must be an integer from " + std::to_string(min) +
                                   " to " + std::to_string(max));
  }
  return std::optional<int64_t>(value);
}

}  // namespace

// GET /emulator/events?partition=&fromSequenceNumber=&deviceId=&max=
HttpResponse ListEvents(const HttpContext& ctx, const HttpRequest& req) {
  if (Status s = Authorize(ctx, req, "messages/events", kServiceConnect); !s.ok()) return ErrorResponse(s);
  auto partition = IntParam(req, "partition", 0, ctx.events.partition_count() - 1);
  if (!partition.ok()) return ErrorResponse(partition.status());
  auto from = IntParam(req, "fromSequenceNumber", 0, INT64_MAX);
  if (!from.ok()) return ErrorResponse(from.status());
  auto max = IntParam(req, "max", 1, 1000);
  if (!max.ok()) return ErrorResponse(max.status());
  EventQuery query;
  if (*partition) query.partition = static_cast<int>(**partition);
  query.from_sequence_number = from->value_or(0);
  query.device_id = req.Query("deviceId");
  query.max_count = static_cast<size_t>(max->value_or(100));
  nlohmann::json events = nlohmann::json::array();
  for (const Event& e : ctx.events.Read(query)) events.push_back(EventToJson(e));
  return JsonResponse(200, events);
}

}  // namespace iothub::http
