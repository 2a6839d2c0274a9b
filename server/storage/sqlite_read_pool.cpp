#include "storage/sqlite_read_pool.h"

namespace iothub::storage {

SqliteReadPool::Connection::Connection(const std::string& path) {
  // NOMUTEX: a lent connection is used by one thread at a time.
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw StorageError("cannot open database " + path + " for reading: " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
}

SqliteReadPool::Connection::~Connection() {
  statements_.clear();  // finalized before the connection closes
  if (owned_) sqlite3_close(db_);
}

Statement& SqliteReadPool::Connection::Prepared(const char* sql) {
  for (auto& [key, statement] : statements_) {
    if (key == sql) {
      statement->Reset();
      return *statement;
    }
  }
  statements_.emplace_back(sql, std::make_unique<Statement>(db_, sql));
  return *statements_.back().second;
}

SqliteReadPool::Lease::~Lease() {
  if (connection_) pool_->Return(std::move(connection_));
}

SqliteReadPool::Lease SqliteReadPool::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto connection = std::move(idle_.back());
      idle_.pop_back();
      return Lease(*this, std::move(connection));
    }
  }
  return Lease(*this, std::make_unique<Connection>(path_));
}

void SqliteReadPool::Return(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(connection));
}

}  // namespace iothub::storage
