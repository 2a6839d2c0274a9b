// A reader of the event log: where it starts in each partition, its cursors, and
// either a wait for new commits (Read) or a read that never waits (TryRead). The event stream uses one per connection; the Event
// Hub-compatible endpoint one per receiver link. Not thread-safe: one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/event_log.h"

namespace iothub {

// Where a reader starts in a partition, as Event Hubs clients say it: earliest,
// latest (new events only), or the first event at or after (or after) a sequence
// number, a byte offset or an enqueued time.
struct EventPosition {
  enum class Kind { kEarliest, kLatest, kSequenceNumber, kOffset, kEnqueuedTime };
  Kind kind = Kind::kLatest;
  int64_t value = 0;      // sequence number or byte offset
  TimePoint time{};       // enqueued time
  bool inclusive = true;  // >= rather than >

  static EventPosition Earliest() { return {Kind::kEarliest}; }
  static EventPosition Latest() { return {Kind::kLatest}; }
  static EventPosition SequenceNumber(int64_t n, bool inclusive = true) { return {Kind::kSequenceNumber, n, {}, inclusive}; }
  static EventPosition Offset(int64_t offset, bool inclusive = true) { return {Kind::kOffset, offset, {}, inclusive}; }
  static EventPosition EnqueuedTime(TimePoint t, bool inclusive = true) { return {Kind::kEnqueuedTime, 0, t, inclusive}; }
};

// The sequence number a reader starting at `position` reads first in `partition`
// (the partition's next sequence number when nothing stored qualifies yet).
int64_t ResolvePosition(EventLog& log, int partition, const EventPosition& position);

class EventReader {
 public:
  // next[p]: the next sequence number to read in partition p (ResolvePosition's answer).
  // partitions: the ones to read; every partition when empty.
  EventReader(EventLog& log, std::vector<int64_t> next, std::vector<int> partitions = {});

  // Up to `max` events past the cursors, taking from each partition in turn, and
  // moves the cursors past them. When there is nothing, waits up to `wait` for a commit.
  // When pacing holds the batch back, it sleeps until the batch is due first.
  std::vector<EventPtr> Read(size_t max, std::chrono::milliseconds wait);

  // Read without the waits: up to `max` events past the cursors, or none, at once.
  // None either because nothing new is committed or because pacing holds the batch
  // back (paced_until() says until when; the events wait for a later call).
  std::vector<EventPtr> TryRead(size_t max);
  // When pacing would hold back a TryRead now: the time from which it hands out a
  // batch again. nullopt when a TryRead now would not be held back.
  std::optional<std::chrono::steady_clock::time_point> paced_until() const;

  // Hands out a batch at most once per `interval` (after a full one, at once): under
  // load a reader then wakes, and writes, once per interval with everything committed
  // meanwhile, instead of once per commit, and takes less CPU from the devices' ingest.
  // An event after a quiet spell still goes out at once.
  void set_pacing(std::chrono::microseconds interval) { pacing_ = interval; }

  // The next sequence number to read, per partition: a position to resume from.
  const std::vector<int64_t>& next() const { return next_; }

 private:
  std::vector<EventPtr> Collect(size_t max);
  // Collect, noting the batch for pacing.
  std::vector<EventPtr> Take(size_t max);

  EventLog& log_;
  std::vector<int64_t> next_;  // per partition
  std::vector<int> partitions_;
  size_t start_ = 0;  // the partition Collect begins with, so none starves the others
  std::chrono::microseconds pacing_{0};
  std::chrono::steady_clock::time_point last_batch_{};
  bool last_batch_full_ = false;
};

}  // namespace iothub
