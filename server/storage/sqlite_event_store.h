// The event log's EventStore in SQLite (schema/0002_event_log.sql).
#pragma once

#include "core/event_store.h"
#include "storage/sqlite_database.h"

namespace iothub::storage {

class SqliteEventStore : public EventStore {
 public:
  explicit SqliteEventStore(SqliteDatabase& db) : db_(db) {}

  std::optional<int> PartitionCount() override;
  void CreatePartitions(int count) override;
  std::vector<PartitionPosition> Positions() override;
  void Append(const std::vector<const Event*>& events, const std::vector<PartitionPosition>& positions) override;
  std::vector<Event> Read(const EventQuery& query) override;
  int64_t DeleteEnqueuedBefore(TimePoint cutoff) override;

 private:
  SqliteDatabase& db_;
};

}  // namespace iothub::storage
