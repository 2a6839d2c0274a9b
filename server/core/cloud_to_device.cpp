#include "core/cloud_to_device.h"

#include <algorithm>
#include <future>

#include "core/crypto.h"

namespace iothub {
namespace {

Status LockLost(const std::string& device_id, const std::string& lock_token) {
  return Status::LockLost("Lock token '" + lock_token + "' is not that of a message of device '" + device_id +
                          "' waiting to be settled: it is unknown, already settled, or its lock expired");
}

}  // namespace

CloudToDeviceRemoval CloudToDevice::Ending(const CloudToDeviceMessage& m, FeedbackStatus status, TimePoint now) {
  CloudToDeviceRemoval removal{m.sequence, std::nullopt};
  if (AckWantsFeedback(m.ack, status)) {
    // An expired message ended when its time ran out, not when the emulator noticed.
    TimePoint when = status == FeedbackStatus::kExpired ? std::min(m.expiry_time, now) : now;
    removal.feedback = MakeFeedbackRecord(m.properties.message_id.value_or(""), m.device_id, m.device_generation_id,
                                          status, when);
  }
  return removal;
}

void CloudToDevice::Remove(const std::vector<CloudToDeviceRemoval>& removals) {
  store_.Remove(removals);
  Announce(removals);
}

void CloudToDevice::Announce(const std::vector<CloudToDeviceRemoval>& removals) {
  const bool feedback =
      std::any_of(removals.begin(), removals.end(), [](const CloudToDeviceRemoval& r) { return r.feedback; });
  store_.WhenDurable([this, feedback](bool) {
    if (feedback) feedback_added_.Notify();
  });
}

Result<int64_t> CloudToDevice::Send(CloudToDeviceMessage m) {
  std::promise<Result<int64_t>> result;
  Send(std::move(m), [&result](Result<int64_t> r) { result.set_value(std::move(r)); });
  return result.get_future().get();
}

void CloudToDevice::Send(CloudToDeviceMessage m, SendDone done) {
  auto device = registry_.Get(m.device_id);
  if (!device.ok()) return done(Status::DeviceNotFound("Device '" + m.device_id + "' not found"));
  const TimePoint now = clock_();
  m.device_generation_id = device->generation_id;
  m.enqueued_time = now;
  if (m.expiry_time == TimePoint{}) m.expiry_time = now + kDefaultTimeToLive;
  m.delivery_count = 0;
  m.lock_token.clear();
  m.lock_expiry = TimePoint{};
  int64_t sequence = 0;
  {
    std::lock_guard lock(mu_);
    store_.Atomically([&] {
      if (store_.Count(m.device_id, now) < kMaxQueueDepth) sequence = store_.Enqueue(m);
    });
  }
  if (sequence == 0) {
    return done(Status(ErrorCode::kDeviceMaximumQueueDepthExceeded,
                       "Device '" + m.device_id + "' already has " + std::to_string(kMaxQueueDepth) +
                           " cloud-to-device messages waiting"));
  }
  store_.WhenDurable([this, sequence, device_id = std::move(m.device_id), done = std::move(done)](bool durable) {
    if (!durable) return done(Status::ServerError("The message was queued but could not be made durable"));
    connections_.NotifyCloudToDevice(device_id);
    done(sequence);
  });
}

std::vector<CloudToDeviceDelivery> CloudToDevice::Lease(const std::string& device_id, size_t max) {
  const TimePoint now = clock_();
  std::vector<CloudToDeviceDelivery> out;
  std::vector<CloudToDeviceRemoval> removals;
  std::lock_guard lock(mu_);
  store_.Atomically([&] {
    for (CloudToDeviceMessage& m : store_.Due(device_id, now)) {
      if (m.expiry_time <= now) {
        removals.push_back(Ending(m, FeedbackStatus::kExpired, now));
        continue;
      }
      if (out.size() >= max) continue;  // still looking for expired ones
      const bool available = m.lock_token.empty() || m.lock_expiry <= now;
      if (!available) continue;
      // Its last delivery was the last one allowed, and it came back unsettled.
      if (m.delivery_count >= kMaxDeliveryCount) {
        removals.push_back(Ending(m, FeedbackStatus::kDeliveryCountExceeded, now));
        continue;
      }
      ++m.delivery_count;
      m.lock_token = crypto::RandomUuid();
      m.lock_expiry = now + kLockDuration;
      store_.SetLock(m.sequence, m.lock_token, m.lock_expiry, m.delivery_count);
      std::string token = m.lock_token;
      out.push_back({std::move(m), std::move(token)});
    }
    if (!removals.empty()) store_.Remove(removals);
  });
  if (!removals.empty()) Announce(removals);
  return out;
}

std::optional<CloudToDeviceMessage> CloudToDevice::Locked(const std::string& device_id, const std::string& lock_token,
                                                          TimePoint now) {
  if (lock_token.empty()) return std::nullopt;
  auto m = store_.LockedBy(device_id, lock_token);
  if (m && m->lock_expiry <= now) return std::nullopt;  // the lock ran out: the device lost it
  return m;
}

Status CloudToDevice::End(const std::string& device_id, const std::string& lock_token, FeedbackStatus status) {
  const TimePoint now = clock_();
  std::vector<CloudToDeviceRemoval> removals;
  {
    std::lock_guard lock(mu_);
    store_.Atomically([&] {
      if (auto m = Locked(device_id, lock_token, now)) {
        removals.push_back(Ending(*m, status, now));
        store_.Remove(removals);
      }
    });
  }
  if (removals.empty()) return LockLost(device_id, lock_token);
  Announce(removals);
  return Status::Ok();
}

Status CloudToDevice::Complete(const std::string& device_id, const std::string& lock_token) {
  return End(device_id, lock_token, FeedbackStatus::kSuccess);
}

Status CloudToDevice::Reject(const std::string& device_id, const std::string& lock_token) {
  return End(device_id, lock_token, FeedbackStatus::kRejected);
}

Status CloudToDevice::Abandon(const std::string& device_id, const std::string& lock_token) {
  const TimePoint now = clock_();
  bool enqueued = false;
  {
    std::lock_guard lock(mu_);
    auto m = Locked(device_id, lock_token, now);
    if (!m) return LockLost(device_id, lock_token);
    if (m->delivery_count >= kMaxDeliveryCount) {
      Remove({Ending(*m, FeedbackStatus::kDeliveryCountExceeded, now)});
    } else {
      store_.SetLock(m->sequence, "", TimePoint{}, m->delivery_count);
      enqueued = true;
    }
  }
  if (enqueued) connections_.NotifyCloudToDevice(device_id);
  return Status::Ok();
}

void CloudToDevice::Release(const std::string& device_id, const std::string& lock_token) {
  if (lock_token.empty()) return;
  bool released = false;
  {
    std::lock_guard lock(mu_);
    if (auto m = store_.LockedBy(device_id, lock_token)) {
      store_.SetLock(m->sequence, "", TimePoint{}, std::max(0, m->delivery_count - 1));
      released = true;
    }
  }
  // A connection that replaced the one that ended may be waiting for it.
  if (released) connections_.NotifyCloudToDevice(device_id);
}

Result<int64_t> CloudToDevice::Purge(const std::string& device_id) {
  if (!registry_.Get(device_id).ok()) return Status::DeviceNotFound("Device '" + device_id + "' not found");
  const TimePoint now = clock_();
  std::vector<CloudToDeviceRemoval> removals;
  std::lock_guard lock(mu_);
  for (const CloudToDeviceMessage& m : store_.Messages(device_id)) {
    removals.push_back(Ending(m, m.expiry_time <= now ? FeedbackStatus::kExpired : FeedbackStatus::kPurged, now));
  }
  if (!removals.empty()) Remove(removals);
  return static_cast<int64_t>(removals.size());
}

int64_t CloudToDevice::Count(const std::string& device_id) { return store_.Count(device_id, clock_()); }

size_t CloudToDevice::Sweep() {
  constexpr size_t kBatch = 500;  // bounds how long one step holds the queues
  const TimePoint now = clock_();
  size_t total = 0;
  while (true) {
    std::lock_guard lock(mu_);
    std::vector<CloudToDeviceRemoval> removals;
    for (const CloudToDeviceMessage& m : store_.Expired(now, kBatch)) {
      removals.push_back(Ending(m, FeedbackStatus::kExpired, now));
    }
    if (!removals.empty()) Remove(removals);
    total += removals.size();
    if (removals.size() < kBatch) return total;
  }
}

}  // namespace iothub
