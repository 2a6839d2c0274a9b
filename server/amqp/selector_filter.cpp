#include "amqp/selector_filter.h"

#include <charconv>
#include <optional>
#include <chrono>
#include <string>

namespace iothub::amqp {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> Integer(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Status Refused(std::string_view expression, std::string_view why) {
  return Status::ArgumentInvalid("The selector filter '" + std::string(expression) + "' is not supported: " +
                                 std::string(why));
}

}  // namespace

Result<EventPosition> ParseSelectorFilter(std::string_view expression) {
  constexpr std::string_view kPrefix = "amqp.annotation.";
  std::string_view rest = Trim(expression);
  if (!rest.starts_with(kPrefix)) return Refused(expression, "it must compare amqp.annotation.x-opt-*");
  rest.remove_prefix(kPrefix.size());
  const size_t op_at = rest.find_first_of("<>=");
  if (op_at == std::string_view::npos) return Refused(expression, "no comparison");
  const std::string_view field = Trim(rest.substr(0, op_at));
  rest.remove_prefix(op_at);
  bool inclusive;
  if (rest.starts_with(">=")) {
    inclusive = true;
    rest.remove_prefix(2);
  } else if (rest.starts_with(">")) {
    inclusive = false;
    rest.remove_prefix(1);
  } else {
    return Refused(expression, "only > and >= are supported");
  }
  rest = Trim(rest);
  if (rest.size() < 2 || rest.front() != '\'' || rest.back() != '\'') {
    return Refused(expression, "the value must be in single quotes");
  }
  const std::string_view value = rest.substr(1, rest.size() - 2);

  if (field == "x-opt-offset") {
    if (value == "@latest") return EventPosition::Latest();
    if (value == "-1") return EventPosition::Earliest();
    auto offset = Integer(value);
    if (!offset || *offset < 0) return Refused(expression, "the offset must be a whole number, -1 or @latest");
    return EventPosition::Offset(*offset, inclusive);
  }
  if (field == "x-opt-sequence-number") {
    auto n = Integer(value);
    if (!n) return Refused(expression, "the sequence number must be a whole number");
    if (*n < 0) return EventPosition::Earliest();
    return EventPosition::SequenceNumber(*n, inclusive);
  }
  if (field == "x-opt-enqueued-time") {
    auto ms = Integer(value);
    // Beyond year 2200 a time point would overflow; nothing is enqueued then anyway. The
    // limit is on the instant meant: "after t" starts a millisecond later.
    if (!ms || *ms < 0 || *ms > int64_t{7'258'118'400'000} - (inclusive ? 0 : 1)) {
      return Refused(expression, "the enqueued time must be milliseconds since the Unix epoch");
    }
    // Readers see enqueued times in whole milliseconds, we keep finer ones: "after t" means
    // from the next millisecond on, or an event enqueued within t's millisecond would pass.
    return EventPosition::EnqueuedTime(TimePoint(std::chrono::milliseconds(*ms + (inclusive ? 0 : 1))), true);
  }
  return Refused(expression, "it must compare x-opt-offset, x-opt-sequence-number or x-opt-enqueued-time");
}

}  // namespace iothub::amqp
