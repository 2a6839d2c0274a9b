// A receiver link's selector filter (spec §6.4), outside input from any AMQP client:
// ParseSelectorFilter on arbitrary text. Properties: no crash or exception; every refusal
// is ArgumentInvalid; an accepted expression compares an amqp.annotation.x-opt-* field
// with > or >= to a quoted value, and gives a consistent position: Latest only from
// '@latest' and Earliest only from offset '-1' (or a negative sequence number), offsets,
// sequence numbers and times never negative; and the position written back as an SDK
// would write it parses to the same position.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "amqp/selector_filter.h"
#include "fuzz_check.h"

namespace {

using namespace iothub;
using fuzz::Check;

int64_t Millis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

bool Same(const EventPosition& a, const EventPosition& b) {
  return a.kind == b.kind && a.value == b.value && a.time == b.time && a.inclusive == b.inclusive;
}

// The expression an SDK writes for `p`.
std::string Written(const EventPosition& p) {
  const std::string op = p.inclusive ? " >= '" : " > '";
  switch (p.kind) {
    case EventPosition::Kind::kEarliest: return "amqp.annotation.x-opt-offset > '-1'";
    case EventPosition::Kind::kLatest: return "amqp.annotation.x-opt-offset > '@latest'";
    case EventPosition::Kind::kOffset: return "amqp.annotation.x-opt-offset" + op + std::to_string(p.value) + "'";
    case EventPosition::Kind::kSequenceNumber:
      return "amqp.annotation.x-opt-sequence-number" + op + std::to_string(p.value) + "'";
    case EventPosition::Kind::kEnqueuedTime:
      return "amqp.annotation.x-opt-enqueued-time" + op + std::to_string(Millis(p.time)) + "'";
  }
  return "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = amqp::ParseSelectorFilter(input);
  if (!parsed.ok()) {
    Check(parsed.status().code() == ErrorCode::kArgumentInvalid, "every refusal is ArgumentInvalid");
    return 0;
  }
  const EventPosition& p = parsed.value();
  Check(input.find("amqp.annotation.") != std::string_view::npos && input.find("x-opt-") != std::string_view::npos,
        "it compares an x-opt-* annotation");
  Check(input.find('>') != std::string_view::npos, "with > or >=");
  Check(input.find('<') == std::string_view::npos, "never with <");
  const size_t open = input.find('\''), close = input.rfind('\'');
  Check(open != std::string_view::npos && close > open, "the value is quoted");
  const std::string_view value = input.substr(open + 1, close - open - 1);
  const bool offset = input.find("x-opt-offset") != std::string_view::npos;
  switch (p.kind) {
    case EventPosition::Kind::kLatest:
      Check(offset && value == "@latest", "Latest only from offset '@latest'");
      break;
    case EventPosition::Kind::kEarliest:
      Check((offset && value == "-1") ||
                (input.find("x-opt-sequence-number") != std::string_view::npos && value.starts_with('-')),
            "Earliest only from offset '-1' or a negative sequence number");
      break;
    case EventPosition::Kind::kOffset:
      Check(offset && p.value >= 0, "an offset is never negative");
      break;
    case EventPosition::Kind::kSequenceNumber:
      Check(p.value >= 0, "a sequence number is never negative");
      break;
    case EventPosition::Kind::kEnqueuedTime:
      Check(Millis(p.time) >= 0 && p.inclusive, "a time is never negative, and counted from (inclusive)");
      break;
  }
  auto again = amqp::ParseSelectorFilter(Written(p));
  Check(again.ok() && Same(again.value(), p), "the position written as an SDK writes it parses back the same");
  return 0;
}
