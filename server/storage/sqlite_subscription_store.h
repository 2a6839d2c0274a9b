// Lasting device subscriptions in SQLite (schema/0003_device_subscriptions.sql).
#pragma once

#include "core/device_subscriptions.h"
#include "storage/sqlite_database.h"

namespace iothub::storage {

class SqliteSubscriptionStore : public SubscriptionStore {
 public:
  explicit SqliteSubscriptionStore(SqliteDatabase& db) : db_(db) {}

  Subscriptions Load(const std::string& client_id) override;
  void Save(const std::string& client_id, const Subscriptions& subscriptions) override;

 private:
  SqliteDatabase& db_;
};

}  // namespace iothub::storage
