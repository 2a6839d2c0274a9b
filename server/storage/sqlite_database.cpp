#include "storage/sqlite_database.h"

#include "storage/migrations.h"

namespace iothub::storage {

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK) {
    throw StorageError("preparing '" + std::string(sql) + "': " + sqlite3_errmsg(db));
  }
}

Statement::Statement(SqliteDatabase& db, std::string_view sql)
    : db_(db.handle()), stmt_(db.Borrow(sql)), cache_(&db) {}

Statement::~Statement() {
  if (cache_) {
    cache_->GiveBack(stmt_);
  } else {
    sqlite3_finalize(stmt_);
  }
}

Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::BindOptional(int index, const std::optional<std::string>& text) {
  if (text) return Bind(index, std::string_view(*text));
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw StorageError(std::string("executing '") + sqlite3_sql(stmt_) + "': " + sqlite3_errmsg(db_));
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::string Statement::Text(int column) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(stmt_, column));
  return p ? std::string(p, sqlite3_column_bytes(stmt_, column)) : std::string();
}

std::optional<std::string> Statement::OptionalText(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return Text(column);
}

SqliteDatabase::SqliteDatabase(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw StorageError("cannot open database " + path + ": " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
  // A constructor that throws runs no destructor: close the connection here (LeakSanitizer found it open).
  try {
    // WAL keeps readers off the writer's back; FULL sync makes every committed
    // registry write survive a power cut, not only a crash.
    Exec("PRAGMA journal_mode = WAL");
    Exec("PRAGMA synchronous = FULL");
    Exec("PRAGMA foreign_keys = ON");
    ApplyMigrations(db_, kSchemaMigrations, path == ":memory:" ? "The in-memory database" : "Database " + path);
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

SqliteDatabase::~SqliteDatabase() {
  syncer_.reset();  // syncs what waits and runs its callbacks, while the file is still open
  for (auto& [sql, stmt] : idle_statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

sqlite3_stmt* SqliteDatabase::Borrow(std::string_view sql) {
  auto lock = Lock();
  if (auto it = idle_statements_.find(std::string(sql)); it != idle_statements_.end()) {
    sqlite3_stmt* stmt = it->second;
    idle_statements_.erase(it);
    return stmt;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) !=
      SQLITE_OK) {
    sqlite3_finalize(stmt);
    throw StorageError("preparing '" + std::string(sql) + "': " + sqlite3_errmsg(db_));
  }
  return stmt;
}

void SqliteDatabase::GiveBack(sqlite3_stmt* stmt) {
  constexpr size_t kMaxIdleStatements = 256;
  auto lock = Lock();
  // Ends any read it was in the middle of and lets go of its bound values.
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (idle_statements_.size() >= kMaxIdleStatements) {
    sqlite3_finalize(stmt);
    return;
  }
  idle_statements_.emplace(sqlite3_sql(stmt), stmt);
}

void SqliteDatabase::Run(std::string_view sql) {
  Statement s(*this, sql);
  s.Run();
}

void SqliteDatabase::Exec(std::string_view sql) {
  auto lock = Lock();
  Statement s(db_, sql);
  s.Run();
}

void SqliteDatabase::InTransaction(const std::function<void()>& work) {
  auto lock = Lock();
  const bool outermost = sqlite3_get_autocommit(db_) != 0;
  Run(outermost ? "BEGIN IMMEDIATE" : "SAVEPOINT nested");
  try {
    work();
    Run(outermost ? "COMMIT" : "RELEASE nested");
  } catch (...) {
    // Undoes this level only; a savepoint rolled back to stays open until released.
    sqlite3_exec(db_, outermost ? "ROLLBACK" : "ROLLBACK TO nested; RELEASE nested", nullptr, nullptr, nullptr);
    throw;
  }
}

void SqliteDatabase::InLightTransaction(const std::function<void()>& work) {
  auto lock = Lock();
  // Inside another transaction it commits with that one, as that one does.
  if (sqlite3_get_autocommit(db_) == 0) return InTransaction(work);
  Run("PRAGMA synchronous = NORMAL");
  try {
    InTransaction(work);
  } catch (...) {
    Run("PRAGMA synchronous = FULL");
    throw;
  }
  Run("PRAGMA synchronous = FULL");
}

void SqliteDatabase::WhenDurable(std::function<void(bool durable)> done) {
  if (in_memory()) return done(true);
  {
    std::lock_guard lock(syncer_mu_);
    if (!syncer_) syncer_ = std::make_unique<WalSyncer>(WalSyncer::SyncFile(path_ + "-wal"));
  }
  syncer_->After(std::move(done));
}

void SqliteDatabase::DrainDurable() {
  WalSyncer* syncer = nullptr;
  {
    std::lock_guard lock(syncer_mu_);
    syncer = syncer_.get();
  }
  if (syncer) syncer->Drain();
}

int64_t SqliteDatabase::SchemaVersion() {
  auto lock = Lock();
  Statement s(db_, "PRAGMA user_version");
  s.Step();
  return s.Int(0);
}

}  // namespace iothub::storage
