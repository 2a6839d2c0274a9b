#include "core/cloud_to_device.h"

namespace iothub {

Result<int64_t> CloudToDevice::Send(CloudToDeviceMessage m) {
  if (!registry_.Get(m.device_id).ok()) return Status::DeviceNotFound("Device '" + m.device_id + "' not found");
  const TimePoint now = Clock::now();
  int64_t sequence = 0;
  {
    std::lock_guard lock(send_mu_);
    if (store_.Count(m.device_id, now) >= kMaxQueueDepth) {
      return Status(ErrorCode::kDeviceMaximumQueueDepthExceeded,
                    "Device '" + m.device_id + "' already has " + std::to_string(kMaxQueueDepth) +
                        " cloud-to-device messages waiting");
    }
    m.enqueued_time = now;
    if (m.expiry_time == TimePoint{}) m.expiry_time = now + kDefaultTimeToLive;
    sequence = store_.Enqueue(m);
  }
  connections_.NotifyCloudToDevice(m.device_id);
  return sequence;
}

std::vector<CloudToDeviceMessage> CloudToDevice::Pending(const std::string& device_id) {
  return store_.Pending(device_id, Clock::now());
}

void CloudToDevice::Complete(const std::string& device_id, int64_t sequence) { store_.Remove(device_id, sequence); }

Result<int64_t> CloudToDevice::Purge(const std::string& device_id) {
  if (!registry_.Get(device_id).ok()) return Status::DeviceNotFound("Device '" + device_id + "' not found");
  return store_.Purge(device_id);
}

int64_t CloudToDevice::Count(const std::string& device_id) { return store_.Count(device_id, Clock::now()); }

}  // namespace iothub
