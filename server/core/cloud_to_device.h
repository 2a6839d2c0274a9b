// Cloud-to-device messages (spec §2.6): a queue per device of at most 50. A
// message is Enqueued until a device receives it (Lease), which locks it
// (Invisible) for one minute under a lock token; the device then completes it
// (gone), rejects it (dead-lettered) or abandons it (Enqueued again). A lock
// that runs out also puts it back. After kMaxDeliveryCount deliveries it is
// dead-lettered; after its expiry time it is dropped. Each end makes a feedback
// record when the message's `ack` asks for one (cloud_to_device_feedback.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/cloud_to_device_feedback.h"
#include "core/device_connections.h"
#include "core/event.h"
#include "core/notifier.h"
#include "core/registry.h"
#include "core/status.h"

namespace iothub {

struct CloudToDeviceMessage {
  int64_t sequence = 0;  // set by the queue
  std::string device_id;
  std::string device_generation_id;  // set by Send, from the registry: feedback names it
  std::string body;
  SystemProperties properties;  // message id, correlation id, user id, content type and encoding
  Properties application_properties;
  std::string ack = "none";  // none, positive, negative, full
  TimePoint enqueued_time{};
  TimePoint expiry_time{};
  int delivery_count = 0;   // how many times a device received it
  std::string lock_token;   // while Invisible: the token of its delivery ("" while Enqueued)
  TimePoint lock_expiry{};  // while Invisible: when it goes back to Enqueued
};

// A message handed to a device, and the token that settles it.
struct CloudToDeviceDelivery {
  CloudToDeviceMessage message;
  std::string lock_token;
};

// How a message leaves the queue: its sequence and the feedback record it makes, if any.
struct CloudToDeviceRemoval {
  int64_t sequence = 0;
  std::optional<FeedbackRecord> feedback;
};

// Storage of the queues and of the feedback they make. Thread-safe; failures throw.
// Enqueue and Remove are seen by every later read at once but are made durable in
// groups: WhenDurable says when they survive a power cut.
class CloudToDeviceStore : public FeedbackStore {
 public:
  virtual int64_t Enqueue(const CloudToDeviceMessage& message) = 0;  // returns its sequence
  // Every message of the device, locked or expired ones too, oldest first.
  virtual std::vector<CloudToDeviceMessage> Messages(const std::string& device_id) = 0;
  // The device's messages a Lease looks at: those expired at `now` and those it may hand out
  // (never locked, or their lock ran out), oldest first.
  virtual std::vector<CloudToDeviceMessage> Due(const std::string& device_id, TimePoint now) = 0;
  // The device's message locked under `lock_token`, whether or not the lock ran out.
  virtual std::optional<CloudToDeviceMessage> LockedBy(const std::string& device_id, const std::string& lock_token) = 0;
  // Messages of any device whose expiry time is at or before `now`, oldest first, up to `max`.
  virtual std::vector<CloudToDeviceMessage> Expired(TimePoint now, size_t max) = 0;
  // Unexpired messages of the device, locked or not.
  virtual int64_t Count(const std::string& device_id, TimePoint now) = 0;
  // Records a message's lock ("" and TimePoint{}: unlocked) and delivery count.
  virtual void SetLock(int64_t sequence, const std::string& lock_token, TimePoint lock_expiry, int delivery_count) = 0;
  // Removes the messages and adds their feedback records, in one transaction.
  virtual void Remove(const std::vector<CloudToDeviceRemoval>& removals) = 0;
  // Drops the device's queue without feedback (the device is deleted); how many.
  virtual int64_t Purge(const std::string& device_id) = 0;
  // `done(durable)` runs, on any thread, once every write made before the call survives a
  // power cut (false: the sync failed). Cheap and not blocking, as Notifier's subscribers.
  virtual void WhenDurable(std::function<void(bool durable)> done) = 0;
  // Returns once every `done` passed to WhenDurable so far has run.
  virtual void DrainDurable() = 0;
  // Runs `work`'s reads and writes as one step, whose writes land together (and become
  // durable as Enqueue's do): cheaper than a step each.
  virtual void Atomically(const std::function<void()>& work) = 0;
};

// Thread-safe. Store failures throw, as the store's do.
class CloudToDevice {
 public:
  static constexpr int kMaxQueueDepth = 50;
  static constexpr std::chrono::seconds kDefaultTimeToLive{3600};
  static constexpr std::chrono::seconds kLockDuration{60};  // not configurable on IoT Hub
  static constexpr int kMaxDeliveryCount = 10;              // IoT Hub's default

  // clock: the time the queues go by (tests pass their own).
  CloudToDevice(CloudToDeviceStore& store, Registry& registry, DeviceConnections& connections,
                std::function<TimePoint()> clock = Clock::now)
      : store_(store), registry_(registry), connections_(connections), clock_(std::move(clock)) {}

  // Waits for the callbacks of the writes made so far: they use this object.
  ~CloudToDevice() { store_.DrainDurable(); }

  // Enqueues the message and, once it is durably stored, tells the device's connection
  // and calls `done` with its sequence: on the store's sync thread, or at once. At once with
  // DeviceNotFound for an unknown device, DeviceMaximumQueueDepthExceeded past 50 waiting.
  // Store failures throw. Concurrent sends share one sync to disk.
  using SendDone = std::function<void(Result<int64_t>)>;
  void Send(CloudToDeviceMessage message, SendDone done);
  // The same, waiting for the result.
  Result<int64_t> Send(CloudToDeviceMessage message);

  // Up to `max` messages for the device to receive now, oldest first: the
  // Enqueued ones and those whose lock ran out. Each is locked for
  // kLockDuration under a new lock token and its delivery counted (the returned
  // message carries the new count). One that was already delivered
  // kMaxDeliveryCount times is dead-lettered instead; expired ones are dropped.
  std::vector<CloudToDeviceDelivery> Lease(const std::string& device_id, size_t max);
  // Settling and purging take effect at once and are made durable soon after (a power
  // cut in between brings a message back, as a redelivery would); OnFeedback's
  // subscribers hear of the records once they are durable.
  // The device is done with it: the message leaves the queue (feedback Success).
  // DeviceMessageLockLost when the token is not the message's current one or its lock ran out.
  Status Complete(const std::string& device_id, const std::string& lock_token);
  // Back to Enqueued, for the next Lease; dead-lettered (feedback
  // DeliveryCountExceeded) if it was delivered kMaxDeliveryCount times. Errors as Complete.
  Status Abandon(const std::string& device_id, const std::string& lock_token);
  // Dead-lettered at once (feedback Rejected). Errors as Complete.
  Status Reject(const std::string& device_id, const std::string& lock_token);
  // The connection that received it ended before the device could settle it
  // (MQTT): back to Enqueued at once, and that delivery not counted, since the
  // device never had the chance to answer. Does nothing if the token is no longer the message's.
  void Release(const std::string& device_id, const std::string& lock_token);

  // Empties the device's queue (feedback Purged); how many. DeviceNotFound for an unknown device.
  Result<int64_t> Purge(const std::string& device_id);
  // Messages waiting for the device, delivered or not (cloudToDeviceMessageCount).
  int64_t Count(const std::string& device_id);
  // Drops every expired message of any device (feedback Expired), so that expiry is
  // reported even for a device that never comes back; how many. Call it now and then.
  size_t Sweep();

  // `fn` runs (as Notifier's subscribers do: cheap, not blocking) each time feedback records
  // were added to the feedback queue (CloudToDeviceFeedback reads them), once they are stored:
  // the back end's readers wake on it instead of polling. Unsubscribe by dropping the result.
  [[nodiscard]] Notifier::Subscription OnFeedback(std::function<void()> fn) {
    return feedback_added_.Subscribe(std::move(fn));
  }

 private:
  // Finds the message of the device currently locked under `lock_token` (lock not run out). Caller holds mu_.
  std::optional<CloudToDeviceMessage> Locked(const std::string& device_id, const std::string& lock_token,
                                             TimePoint now);
  // The removal of `m` with the feedback its ack asks for.
  static CloudToDeviceRemoval Ending(const CloudToDeviceMessage& m, FeedbackStatus status, TimePoint now);
  // store_.Remove, then Announce.
  void Remove(const std::vector<CloudToDeviceRemoval>& removals);
  // Once what was removed is durable, tells OnFeedback's subscribers if a record was added.
  void Announce(const std::vector<CloudToDeviceRemoval>& removals);
  // Complete and Reject: the locked message leaves the queue with `status`.
  Status End(const std::string& device_id, const std::string& lock_token, FeedbackStatus status);

  CloudToDeviceStore& store_;
  Registry& registry_;
  DeviceConnections& connections_;
  std::function<TimePoint()> clock_;
  // Makes each read-check-write on the queues one step: the depth check and the
  // enqueue, choosing and locking messages, settling by lock token.
  std::mutex mu_;
  Notifier feedback_added_;
};

}  // namespace iothub
