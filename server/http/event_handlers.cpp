#include <charconv>
#include <nlohmann/json.hpp>

#include "http/error_response.h"
#include "http/event_json.h"
#include "http/handlers.h"
#include "http/request_auth.h"

namespace iothub::http {
namespace {

// Reads an optional integer query parameter; false (with the error written) when it is not one.
bool IntParam(const httplib::Request& req, httplib::Response& res, const char* name, int64_t min, int64_t max,
              std::optional<int64_t>& out) {
  if (!req.has_param(name)) return true;
  const std::string text = req.get_param_value(name);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    WriteError(res, Status::ArgumentInvalid("'" + std::string(name) + "' must be an integer from " +
                                            std::to_string(min) + " to " + std::to_string(max)));
    return false;
  }
  out = value;
  return true;
}

}  // namespace

// GET /emulator/events?partition=&fromSequenceNumber=&deviceId=&max=
void ListEvents(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  if (!Authorize(ctx, req, res, "messages/events", kServiceConnect)) return;
  std::optional<int64_t> partition, from, max;
  if (!IntParam(req, res, "partition", 0, ctx.events.partition_count() - 1, partition) ||
      !IntParam(req, res, "fromSequenceNumber", 0, INT64_MAX, from) || !IntParam(req, res, "max", 1, 1000, max)) {
    return;
  }
  EventQuery query;
  if (partition) query.partition = static_cast<int>(*partition);
  query.from_sequence_number = from.value_or(0);
  if (req.has_param("deviceId")) query.device_id = req.get_param_value("deviceId");
  query.max_count = static_cast<size_t>(max.value_or(100));
  nlohmann::json events = nlohmann::json::array();
  for (const Event& e : ctx.events.Read(query)) events.push_back(EventToJson(e));
  WriteJson(res, 200, events);
}

}  // namespace iothub::http
