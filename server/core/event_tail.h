// The most recently committed events of each partition, in memory, so that live
// readers are served without touching the store (or the writer's lock). The
// event log's writer hands each commit over; the oldest events leave once a
// partition holds more than its limits. Thread-safe: one writer, many readers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <shared_mutex>
#include <vector>

#include "core/event.h"

namespace iothub {

using EventPtr = std::shared_ptr<const Event>;

class EventTail {
 public:
  struct Limits {
    size_t max_events = 4096;             // per partition
    size_t max_bytes = 4 * 1024 * 1024;  // per partition, roughly: bodies, properties and bookkeeping
  };

  // next_sequence: where each partition's next event will be numbered (its tail starts empty there).
  EventTail(const std::vector<int64_t>& next_sequence, Limits limits);

  // The writer, after a commit: events in commit order, numbered consecutively per partition.
  void Add(const std::vector<EventPtr>& events);

  // Appends up to `max` events of `partition` from sequence number `from` on to `out`. False when
  // the tail no longer holds `from` (it is older than the oldest kept): read it from the store.
  bool Read(int partition, int64_t from, size_t max, std::vector<EventPtr>& out) const;

 private:
  struct Partition {
    std::deque<EventPtr> events;
    int64_t begin = 0;  // sequence number of events.front(), or of the next event when empty
    size_t bytes = 0;
  };
  static size_t Footprint(const Event& e);

  const Limits limits_;
  mutable std::shared_mutex mu_;
  std::vector<Partition> partitions_;  // guarded by mu_
};

}  // namespace iothub
