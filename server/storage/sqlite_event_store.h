// The event log's EventStore in SQLite (schema/0002_event_log.sql).
#pragma once

#include <memory>

#include "core/event_store.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_read_pool.h"

namespace iothub::storage {

class SqliteEventStore : public EventStore {
 public:
  // Appends on `db`; reads on connections of their own, except for an in-memory
  // database, which only `db` can see.
  explicit SqliteEventStore(SqliteDatabase& db);

  std::optional<int> PartitionCount() override;
  void CreatePartitions(int count) override;
  std::vector<PartitionPosition> Positions() override;
  void Append(const std::vector<const Event*>& events, const std::vector<PartitionPosition>& positions) override;
  std::vector<Event> Read(const EventQuery& query) override;
  std::vector<Event> ReadPartition(int partition, int64_t from, size_t max) override;
  std::optional<int64_t> FirstSequenceAtOrAfter(int partition, Key key, int64_t value) override;
  int64_t DeleteEnqueuedBefore(TimePoint cutoff) override;

 private:
  // Runs f(SqliteReadPool::Connection&) on a read connection.
  template <class F>
  auto Reading(F&& f);

  SqliteDatabase& db_;
  std::unique_ptr<SqliteReadPool> readers_;  // null for an in-memory database
  SqliteReadPool::Connection shared_reader_;  // the writer's connection, under its lock, when readers_ is null
};

}  // namespace iothub::storage
