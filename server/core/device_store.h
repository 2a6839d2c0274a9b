// Where the registry keeps device identities. Implementations are thread-safe;
// each call is atomic on its own, and InTransaction makes a group of them so.
// Storage failures throw (they are bugs or a broken disk, not user errors).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"

namespace iothub {

struct DeviceCounts {
  int64_t total = 0;
  int64_t enabled = 0;
  int64_t disabled = 0;
};

class DeviceStore {
 public:
  virtual ~DeviceStore() = default;

  virtual std::optional<Device> Find(const std::string& device_id) = 0;
  // In creation order, at most `limit`.
  virtual std::vector<Device> List(size_t limit) = 0;
  virtual void Insert(const Device& device) = 0;
  virtual void Update(const Device& device) = 0;
  // False when there was no such device.
  virtual bool Erase(const std::string& device_id) = 0;
  virtual DeviceCounts Counts() = 0;
  // Connection state and activity, written without touching the etag (as IoT Hub).
  // A device that no longer exists is skipped.
  virtual void UpdatePresence(const std::string& device_id, bool connected, TimePoint state_time,
                              TimePoint last_activity) = 0;
  // Marks every device disconnected (at start, before any connection exists).
  virtual void ResetPresence() = 0;
  // Runs `work` so that all of its writes land or none do (none if it throws). Nested
  // in another, it is undone alone if it throws and lands when the outermost one commits.
  virtual void InTransaction(const std::function<void()>& work) = 0;
};

}  // namespace iothub
