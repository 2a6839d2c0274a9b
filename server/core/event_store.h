// Where the event log keeps events: partitions with their own sequence numbers.
// Implementations are thread-safe; storage failures throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/event.h"

namespace iothub {

struct PartitionPosition {
  int64_t next_sequence_number = 0;
  int64_t next_offset = 0;
};

struct EventQuery {
  std::optional<int> partition;          // all partitions when absent
  int64_t from_sequence_number = 0;      // inclusive, per partition
  std::optional<TimePoint> from_enqueued_time;
  std::optional<std::string> device_id;  // iothub-connection-device-id
  size_t max_count = 100;
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // The partition count recorded when the log was created, or nullopt for a new log.
  virtual std::optional<int> PartitionCount() = 0;
  // Records the partition count of a new log (once).
  virtual void CreatePartitions(int count) = 0;
  // Where each partition will write next (they only move forward, even when
  // retention empties a partition).
  virtual std::vector<PartitionPosition> Positions() = 0;
  // Stores the events and the positions after them, all or nothing.
  virtual void Append(const std::vector<const Event*>& events, const std::vector<PartitionPosition>& positions) = 0;
  // Ordered by partition, then sequence number.
  virtual std::vector<Event> Read(const EventQuery& query) = 0;
  // At most `max` events of one partition from sequence number `from` on, in order. A
  // reader's query: it runs beside Append (on a read connection) without waiting for it.
  virtual std::vector<Event> ReadPartition(int partition, int64_t from, size_t max) = 0;
  // The sequence number of the first event of `partition` whose byte offset (or
  // enqueued time, in microseconds since the epoch) is at least `value`; nullopt if none is.
  enum class Key { kOffset, kEnqueuedTime };
  virtual std::optional<int64_t> FirstSequenceAtOrAfter(int partition, Key key, int64_t value) = 0;
  // Removes events enqueued before `cutoff`; returns how many.
  virtual int64_t DeleteEnqueuedBefore(TimePoint cutoff) = 0;
};

}  // namespace iothub
