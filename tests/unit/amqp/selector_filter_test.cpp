#include "amqp/selector_filter.h"

#include <doctest/doctest.h>

namespace iothub::amqp {
namespace {

using Kind = EventPosition::Kind;
using std::chrono::milliseconds;

EventPosition Parsed(std::string_view expression) {
  auto p = ParseSelectorFilter(expression);
  REQUIRE_MESSAGE(p.ok(), expression << ": " << p.status().message());
  return p.value();
}

void Refused(std::string_view expression) {
  auto p = ParseSelectorFilter(expression);
  CHECK_MESSAGE(!p.ok(), expression);
  if (!p.ok()) CHECK(p.status().code() == ErrorCode::kArgumentInvalid);
}

}  // namespace

TEST_CASE("ParseSelectorFilter: the offsets the Event Hubs SDKs write") {
  CHECK(Parsed("amqp.annotation.x-opt-offset > '-1'").kind == Kind::kEarliest);
  CHECK(Parsed("amqp.annotation.x-opt-offset >= '-1'").kind == Kind::kEarliest);
  CHECK(Parsed("amqp.annotation.x-opt-offset > '@latest'").kind == Kind::kLatest);

  auto after = Parsed("amqp.annotation.x-opt-offset > '1017928807456'");
  CHECK(after.kind == Kind::kOffset);
  CHECK(after.value == 1017928807456);
  CHECK_FALSE(after.inclusive);
  auto from = Parsed("amqp.annotation.x-opt-offset >= '0'");
  CHECK(from.kind == Kind::kOffset);
  CHECK(from.value == 0);
  CHECK(from.inclusive);
  // Spaces around the parts, as hand-written filters have them.
  CHECK(Parsed("  amqp.annotation.x-opt-offset>='12'  ").value == 12);
}

TEST_CASE("ParseSelectorFilter: sequence numbers, > and >=, and a negative one from the start") {
  auto after = Parsed("amqp.annotation.x-opt-sequence-number > '41'");
  CHECK(after.kind == Kind::kSequenceNumber);
  CHECK(after.value == 41);
  CHECK_FALSE(after.inclusive);
  auto from = Parsed("amqp.annotation.x-opt-sequence-number >= '0'");
  CHECK(from.kind == Kind::kSequenceNumber);
  CHECK(from.value == 0);
  CHECK(from.inclusive);
  CHECK(Parsed("amqp.annotation.x-opt-sequence-number > '-1'").kind == Kind::kEarliest);
}

TEST_CASE("ParseSelectorFilter: enqueued times in milliseconds, 'after t' from the next millisecond") {
  auto from = Parsed("amqp.annotation.x-opt-enqueued-time >= '1700000000123'");
  CHECK(from.kind == Kind::kEnqueuedTime);
  CHECK(from.time == TimePoint(milliseconds(1700000000123)));
  CHECK(from.inclusive);
  auto after = Parsed("amqp.annotation.x-opt-enqueued-time > '1700000000123'");
  CHECK(after.kind == Kind::kEnqueuedTime);
  CHECK(after.time == TimePoint(milliseconds(1700000000124)));
  CHECK(after.inclusive);
  CHECK(Parsed("amqp.annotation.x-opt-enqueued-time > '0'").time == TimePoint(milliseconds(1)));
}

TEST_CASE("ParseSelectorFilter: other fields, other comparisons, unquoted or garbled values are refused") {
  Refused("");
  Refused("amqp.annotation.x-opt-partition-key > 'a'");
  Refused("amqp.annotation.x-opt-offset-x > '1'");
  Refused("x-opt-offset > '1'");
  Refused("amqp.properties.message-id > '1'");
  Refused("amqp.annotation.x-opt-offset < '5'");
  Refused("amqp.annotation.x-opt-offset <= '5'");
  Refused("amqp.annotation.x-opt-offset = '5'");
  Refused("amqp.annotation.x-opt-offset '5'");
  Refused("amqp.annotation.x-opt-offset > 5");
  Refused("amqp.annotation.x-opt-offset > \"5\"");
  Refused("amqp.annotation.x-opt-offset > '5");
  Refused("amqp.annotation.x-opt-offset > '");
  Refused("amqp.annotation.x-opt-offset > '5x'");
  Refused("amqp.annotation.x-opt-offset > ' 5'");
  Refused("amqp.annotation.x-opt-offset > '+5'");
  Refused("amqp.annotation.x-opt-offset > '1.5'");
  Refused("amqp.annotation.x-opt-offset > '-2'");
  Refused("amqp.annotation.x-opt-offset > ''");
  Refused("amqp.annotation.x-opt-offset > '@earliest'");
  Refused("amqp.annotation.x-opt-sequence-number > 'latest'");
  Refused("amqp.annotation.x-opt-enqueued-time > '-1'");
  Refused("amqp.annotation.x-opt-enqueued-time > '2024-01-01T00:00:00Z'");
}

TEST_CASE("ParseSelectorFilter: numbers too large are refused, never wrapped") {
  Refused("amqp.annotation.x-opt-offset > '9223372036854775808'");
  Refused("amqp.annotation.x-opt-sequence-number > '99999999999999999999999'");
  Refused("amqp.annotation.x-opt-enqueued-time > '9223372036854775807'");
  CHECK(Parsed("amqp.annotation.x-opt-offset > '9223372036854775807'").value == INT64_MAX);
  // Times up to 2200-01-01 (7258118400000 ms) are taken; "after" that instant would be past it.
  CHECK(Parsed("amqp.annotation.x-opt-enqueued-time >= '7258118400000'").time ==
        TimePoint(milliseconds(7258118400000)));
  Refused("amqp.annotation.x-opt-enqueued-time >= '7258118400001'");
  Refused("amqp.annotation.x-opt-enqueued-time > '7258118400000'");
}

}  // namespace iothub::amqp
