// Cloud-to-device messages (spec §2.6): a queue per device of at most 50, each
// kept until the device acknowledges it or its time to live runs out, delivered
// to the device's connection when it listens for them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/device_connections.h"
#include "core/event.h"
#include "core/registry.h"
#include "core/status.h"

namespace iothub {

struct CloudToDeviceMessage {
  int64_t sequence = 0;  // set by the queue
  std::string device_id;
  std::string body;
  SystemProperties properties;  // message id, correlation id, user id, content type and encoding
  Properties application_properties;
  std::string ack = "none";  // none, positive, negative, full
  TimePoint enqueued_time{};
  TimePoint expiry_time{};
  int delivery_count = 0;
};

// Storage of the queues. Thread-safe; failures throw.
class CloudToDeviceStore {
 public:
  virtual ~CloudToDeviceStore() = default;
  virtual int64_t Enqueue(const CloudToDeviceMessage& message) = 0;  // returns its sequence
  // Unexpired messages of the device, oldest first; removes the expired ones.
  virtual std::vector<CloudToDeviceMessage> Pending(const std::string& device_id, TimePoint now) = 0;
  virtual int64_t Count(const std::string& device_id, TimePoint now) = 0;
  virtual void MarkDelivered(int64_t sequence) = 0;
  virtual bool Remove(const std::string& device_id, int64_t sequence) = 0;
  virtual int64_t Purge(const std::string& device_id) = 0;
};

class CloudToDevice {
 public:
  static constexpr int kMaxQueueDepth = 50;
  static constexpr std::chrono::seconds kDefaultTimeToLive{3600};

  CloudToDevice(CloudToDeviceStore& store, Registry& registry, DeviceConnections& connections)
      : store_(store), registry_(registry), connections_(connections) {}

  // DeviceNotFound for an unknown device; DeviceMaximumQueueDepthExceeded past 50 waiting.
  Result<int64_t> Send(CloudToDeviceMessage message);
  std::vector<CloudToDeviceMessage> Pending(const std::string& device_id);
  // The device acknowledged it: it leaves the queue.
  void Complete(const std::string& device_id, int64_t sequence);
  void MarkDelivered(int64_t sequence) { store_.MarkDelivered(sequence); }
  Result<int64_t> Purge(const std::string& device_id);
  int64_t Count(const std::string& device_id);

 private:
  CloudToDeviceStore& store_;
  Registry& registry_;
  DeviceConnections& connections_;
  std::mutex send_mu_;  // makes the depth check and the enqueue one step
};

}  // namespace iothub
