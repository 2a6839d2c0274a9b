// Read-only connections to a database file, for readers that must not queue
// behind its writer: in WAL mode each sees the last commit while the writer
// goes on. Connections are lent out and kept for the next reader, each with
// its prepared statements. Thread-safe; a lent connection belongs to one thread.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "storage/sqlite_database.h"

namespace iothub::storage {

class SqliteReadPool {
 public:
  class Connection {
   public:
    explicit Connection(const std::string& path);
    // Over a connection someone else owns and guards (an in-memory database's only one).
    explicit Connection(sqlite3* borrowed) : db_(borrowed), owned_(false) {}
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    // The statement prepared for `sql` on this connection, reset and unbound.
    // `sql` must be a string literal (its address is the cache key).
    Statement& Prepared(const char* sql);

   private:
    sqlite3* db_ = nullptr;
    bool owned_ = true;
    std::vector<std::pair<const char*, std::unique_ptr<Statement>>> statements_;
  };

  // Returns its connection to the pool when destroyed.
  class Lease {
   public:
    Lease(SqliteReadPool& pool, std::unique_ptr<Connection> connection)
        : pool_(&pool), connection_(std::move(connection)) {}
    Lease(Lease&&) = default;
    ~Lease();
    Connection& operator*() { return *connection_; }

   private:
    SqliteReadPool* pool_;
    std::unique_ptr<Connection> connection_;
  };

  // path: a database file (not ":memory:") that the writer has created.
  explicit SqliteReadPool(std::string path, size_t max_idle = 8) : path_(std::move(path)), max_idle_(max_idle) {}
  Lease Acquire();

 private:
  void Return(std::unique_ptr<Connection> connection);

  const std::string path_;
  const size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

}  // namespace iothub::storage
