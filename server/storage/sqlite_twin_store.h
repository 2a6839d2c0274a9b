// Twins in SQLite (schema/0005_twins.sql).
#pragma once

#include "core/twins.h"
#include "storage/sqlite_database.h"

namespace iothub::storage {

class SqliteTwinStore : public TwinStore {
 public:
  explicit SqliteTwinStore(SqliteDatabase& db) : db_(db) {}

  std::optional<TwinDocument> Load(const std::string& device_id) override;
  void Save(const std::string& device_id, const TwinDocument& twin) override;
  void Remove(const std::string& device_id) override;

 private:
  SqliteDatabase& db_;
};

}  // namespace iothub::storage
