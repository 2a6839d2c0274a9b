// The cloud-to-device queues and the feedback queue in SQLite
// (schema/0004_cloud_to_device.sql, schema/0006_cloud_to_device_leases.sql).
#pragma once

#include "core/cloud_to_device.h"
#include "storage/sqlite_database.h"

namespace iothub::storage {

class SqliteCloudToDeviceStore : public CloudToDeviceStore {
 public:
  explicit SqliteCloudToDeviceStore(SqliteDatabase& db) : db_(db) {}

  int64_t Enqueue(const CloudToDeviceMessage& message) override;
  std::vector<CloudToDeviceMessage> Messages(const std::string& device_id) override;
  std::vector<CloudToDeviceMessage> Due(const std::string& device_id, TimePoint now) override;
  std::optional<CloudToDeviceMessage> LockedBy(const std::string& device_id, const std::string& lock_token) override;
  std::vector<CloudToDeviceMessage> Expired(TimePoint now, size_t max) override;
  int64_t Count(const std::string& device_id, TimePoint now) override;
  void SetLock(int64_t sequence, const std::string& lock_token, TimePoint lock_expiry, int delivery_count) override;
  void Remove(const std::vector<CloudToDeviceRemoval>& removals) override;
  int64_t Purge(const std::string& device_id) override;
  void WhenDurable(std::function<void(bool durable)> done) override;
  void DrainDurable() override;
  void Atomically(const std::function<void()>& work) override { db_.InLightTransaction(work); }

  std::vector<FeedbackRecord> LockFeedback(size_t max, const std::string& lock_token, TimePoint now,
                                           TimePoint lock_expiry, TimePoint expired_before) override;
  size_t CompleteFeedback(const std::string& lock_token, TimePoint now) override;
  size_t AbandonFeedback(const std::string& lock_token, TimePoint now) override;

 private:
  SqliteDatabase& db_;
};

}  // namespace iothub::storage
