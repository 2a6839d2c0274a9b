#include "storage/migrations.h"

#include "storage/sqlite_database.h"

namespace iothub::storage {
namespace {

void Exec(sqlite3* db, const std::string& sql, const std::string& context) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw StorageError(context + ": " + message);
  }
}

int UserVersion(sqlite3* db) {
  Statement s(db, "PRAGMA user_version");
  s.Step();
  return static_cast<int>(s.Int(0));
}

}  // namespace

void ApplyMigrations(sqlite3* db, const std::vector<Migration>& migrations, const std::string& what) {
  const int known = migrations.empty() ? 0 : migrations.back().version;
  const int current = UserVersion(db);
  if (current > known) {
    throw StorageError(what + " has schema version " + std::to_string(current) + ", but this emulator knows only up to " +
                       std::to_string(known) + ". It was written by a newer iothub-emulator: upgrade the emulator, "
                       "or start with another --data-dir.");
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    Exec(db, "BEGIN IMMEDIATE", "starting migration " + m.name);
    try {
      Exec(db, m.sql, "migration " + m.name);
      Exec(db, "PRAGMA user_version = " + std::to_string(m.version), "recording migration " + m.name);
      Exec(db, "COMMIT", "committing migration " + m.name);
    } catch (...) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

}  // namespace iothub::storage
