#include "storage/sqlite_consumer_group_store.h"

namespace iothub::storage {

std::vector<std::string> SqliteConsumerGroupStore::List() {
  auto lock = db_.Lock();
  Statement s(db_, "SELECT name FROM consumer_groups ORDER BY seq");
  std::vector<std::string> names;
  while (s.Step()) names.push_back(s.Text(0));
  return names;
}

bool SqliteConsumerGroupStore::Insert(const std::string& name) {
  auto lock = db_.Lock();
  // The column's NOCASE uniqueness makes "Ops" and "ops" one name.
  Statement s(db_, "INSERT OR IGNORE INTO consumer_groups (name) VALUES (?)");
  s.Bind(1, name).Run();
  return sqlite3_changes(db_.handle()) > 0;
}

bool SqliteConsumerGroupStore::Erase(const std::string& name) {
  auto lock = db_.Lock();
  Statement s(db_, "DELETE FROM consumer_groups WHERE name = ?");  // compared with the column's NOCASE
  s.Bind(1, name).Run();
  return sqlite3_changes(db_.handle()) > 0;
}

}  // namespace iothub::storage
