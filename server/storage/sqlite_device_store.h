// The registry's DeviceStore in SQLite (table `devices`, schema/0001_registry.sql).
#pragma once

#include "core/device_store.h"
#include "storage/sqlite_database.h"

namespace iothub::storage {

class SqliteDeviceStore : public DeviceStore {
 public:
  explicit SqliteDeviceStore(SqliteDatabase& db) : db_(db) {}

  std::optional<Device> Find(const std::string& device_id) override;
  std::vector<Device> List(size_t limit) override;
  void Insert(const Device& device) override;
  void Update(const Device& device) override;
  bool Erase(const std::string& device_id) override;
  DeviceCounts Counts() override;
  void UpdatePresence(const std::string& device_id, bool connected, TimePoint state_time,
                      TimePoint last_activity) override;
  void ResetPresence() override;
  void InTransaction(const std::function<void()>& work) override;

 private:
  SqliteDatabase& db_;
};

}  // namespace iothub::storage
