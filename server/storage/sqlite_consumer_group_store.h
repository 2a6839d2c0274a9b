// The consumer groups created through the API, in SQLite (schema/0007_consumer_groups.sql).
#pragma once

#include "core/consumer_group_store.h"
#include "storage/sqlite_database.h"

namespace iothub::storage {

class SqliteConsumerGroupStore : public ConsumerGroupStore {
 public:
  explicit SqliteConsumerGroupStore(SqliteDatabase& db) : db_(db) {}

  std::vector<std::string> List() override;
  bool Insert(const std::string& name) override;
  bool Erase(const std::string& name) override;

 private:
  SqliteDatabase& db_;
};

}  // namespace iothub::storage
