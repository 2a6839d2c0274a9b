// The cloud-to-device queues in SQLite (schema/0004_cloud_to_device.sql).
#pragma once

#include "core/cloud_to_device.h"
#include "storage/sqlite_database.h"

namespace iothub::storage {

class SqliteCloudToDeviceStore : public CloudToDeviceStore {
 public:
  explicit SqliteCloudToDeviceStore(SqliteDatabase& db) : db_(db) {}

  int64_t Enqueue(const CloudToDeviceMessage& message) override;
  std::vector<CloudToDeviceMessage> Pending(const std::string& device_id, TimePoint now) override;
  int64_t Count(const std::string& device_id, TimePoint now) override;
  void MarkDelivered(int64_t sequence) override;
  bool Remove(const std::string& device_id, int64_t sequence) override;
  int64_t Purge(const std::string& device_id) override;

 private:
  SqliteDatabase& db_;
};

}  // namespace iothub::storage
