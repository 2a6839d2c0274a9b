// One SQLite connection with the settings the emulator relies on (WAL, foreign
// keys, a busy timeout), a small prepared-statement wrapper and the migrations
// applied. Thread-safe: every use goes through Lock(), which serialises access.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

#include "storage/wal_syncer.h"

namespace iothub::storage {

class SqliteDatabase;

class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql);
  // Borrows the database's prepared statement for `sql`, preparing it only the first time:
  // for a small query preparing costs more than running it. The caller holds db.Lock().
  Statement(SqliteDatabase& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binders take 1-based positions.
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, int64_t value);
  Statement& BindOptional(int index, const std::optional<std::string>& text);  // NULL when absent
  Statement& BindBlob(int index, std::string_view bytes);
  // Makes the statement ready to bind and run again.
  void Reset();
  // True while there is a row to read; false when done.
  bool Step();
  void Run() { while (Step()) {} }

  int64_t Int(int column) const;
  std::string Text(int column) const;  // also reads BLOBs, byte for byte
  std::optional<std::string> OptionalText(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  SqliteDatabase* cache_ = nullptr;  // set when borrowed: given back on destruction
};

class SqliteDatabase {
 public:
  // path ":memory:" keeps everything in memory. Applies the embedded schema
  // migrations; throws StorageError if the file is from a newer emulator.
  explicit SqliteDatabase(const std::string& path);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  std::unique_lock<std::recursive_mutex> Lock() { return std::unique_lock(mu_); }
  sqlite3* handle() { return db_; }
  const std::string& path() const { return path_; }
  // An in-memory database exists per connection: no second connection can see it.
  bool in_memory() const { return path_ == ":memory:"; }
  void Exec(std::string_view sql);
  int64_t SchemaVersion();
  // Runs `work` so that all of its writes land or none do (none if it throws, which is
  // passed on). Nested inside another, it is a savepoint: undone alone if it throws, and
  // durable only when the outermost one commits.
  void InTransaction(const std::function<void()>& work);
  // As InTransaction, for writes that need not survive a power cut on their own (locks that
  // run out in a minute anyway): the commit skips its fsync. WAL appends in order, so the
  // next durable commit makes these durable too; a crash of the process loses nothing.
  void InLightTransaction(const std::function<void()>& work);
  // `done(durable)` runs once every light commit made before the call survives a power cut:
  // on the database's syncer thread, which makes all that waited durable with one fdatasync
  // of the WAL (wal_syncer.h). In memory, there is nothing to sync: it runs at once.
  void WhenDurable(std::function<void(bool durable)> done);
  // Returns once every `done` passed to WhenDurable so far has run.
  void DrainDurable();

 private:
  friend class Statement;
  sqlite3_stmt* Borrow(std::string_view sql);
  void GiveBack(sqlite3_stmt* stmt);
  // Runs one of the few statements transactions use, from the cache.
  void Run(std::string_view sql);

  std::recursive_mutex mu_;  // guards db_; recursive so a transaction can call the store's own methods
  const std::string path_;
  sqlite3* db_ = nullptr;
  // Prepared statements not in use, by SQL text. A nested use of the same text while one is
  // borrowed prepares a second. Bounded, so that statements built from input cannot grow it.
  std::unordered_multimap<std::string, sqlite3_stmt*> idle_statements_;  // guarded by mu_
  std::mutex syncer_mu_;
  std::unique_ptr<WalSyncer> syncer_;  // made on first use; guarded by syncer_mu_
};

}  // namespace iothub::storage
