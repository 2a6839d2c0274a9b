// Numbered schema migrations (schema/NNNN_name.sql, embedded at build time) and
// the runner that brings a database up to date, recording the version in
// PRAGMA user_version.
#pragma once

#include <sqlite3.h>

#include <string>
#include <vector>

namespace iothub::storage {

struct Migration {
  int version;       // the schema version after this migration
  std::string name;  // file name, for messages
  std::string sql;
};

extern const std::vector<Migration> kSchemaMigrations;

// Applies each migration newer than the database's version, each in its own
// transaction. Throws StorageError when the database is newer than `migrations`.
void ApplyMigrations(sqlite3* db, const std::vector<Migration>& migrations, const std::string& what);

}  // namespace iothub::storage
