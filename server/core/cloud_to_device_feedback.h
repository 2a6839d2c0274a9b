// Feedback on cloud-to-device messages (spec §7): for a message sent with
// `iothub-ack` positive, negative or full, IoT Hub records how it ended, and the
// back end reads those records from one hub-wide queue
// (/messages/serviceBound/feedback), in batches, each locked under a lock token
// until completed or abandoned.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/time_format.h"

namespace iothub {

// How a cloud-to-device message ended, as the service SDKs name it.
enum class FeedbackStatus { kSuccess, kExpired, kDeliveryCountExceeded, kRejected, kPurged };

// "Success", "Expired", "DeliveryCountExceeded", "Rejected", "Purged".
const char* FeedbackStatusName(FeedbackStatus status);
std::optional<FeedbackStatus> FeedbackStatusFromName(const std::string& name);
// Whether a message sent with `ack` (none, positive, negative, full) asks for a
// record of this outcome: positive for Success only; negative for every other
// outcome (Purged included: the message was not delivered); full for all.
bool AckWantsFeedback(const std::string& ack, FeedbackStatus status);

// One record of the feedback message body (spec §7).
struct FeedbackRecord {
  int64_t sequence = 0;              // set by the queue
  std::string original_message_id;   // the message's message id ("" when it had none)
  std::string device_id;
  std::string device_generation_id;  // of the device the message was for
  TimePoint enqueued_time{};         // when the outcome happened
  FeedbackStatus status = FeedbackStatus::kSuccess;
  std::string description;           // human-readable, e.g. "Success"
};

// The record for a message's outcome, with IoT Hub's description.
FeedbackRecord MakeFeedbackRecord(const std::string& original_message_id, const std::string& device_id,
                                  const std::string& device_generation_id, FeedbackStatus status, TimePoint when);

// What the back end receives: the records of one feedback message and the token that settles them.
struct FeedbackBatch {
  std::string lock_token;
  std::vector<FeedbackRecord> records;  // oldest first, at least one
};

// Storage of the feedback queue. Thread-safe; failures throw. Records are added
// by the cloud-to-device store, together with the removal of their message.
class FeedbackStore {
 public:
  virtual ~FeedbackStore() = default;
  // Drops records enqueued at or before `expired_before`, then locks up to `max`
  // of the others that are unlocked or whose lock ran out (oldest first) under
  // `lock_token` until `lock_expiry`, and returns them.
  virtual std::vector<FeedbackRecord> LockFeedback(size_t max, const std::string& lock_token, TimePoint now,
                                                   TimePoint lock_expiry, TimePoint expired_before) = 0;
  // Removes the records locked under `lock_token` whose lock has not run out; how many.
  virtual size_t CompleteFeedback(const std::string& lock_token, TimePoint now) = 0;
  // Unlocks the records locked under `lock_token` whose lock has not run out; how many.
  virtual size_t AbandonFeedback(const std::string& lock_token, TimePoint now) = 0;
};

// The hub's feedback queue as the back end reads it. Thread-safe.
class CloudToDeviceFeedback {
 public:
  static constexpr size_t kMaxBatch = 64;                      // records per feedback message, as IoT Hub
  static constexpr std::chrono::seconds kLockDuration{60};     // feedback queue lock (IoT Hub's default)
  static constexpr std::chrono::seconds kTimeToLive{3600};     // a record nobody reads is dropped (default 1 h)

  explicit CloudToDeviceFeedback(FeedbackStore& store, std::function<TimePoint()> clock = Clock::now)
      : store_(store), clock_(std::move(clock)) {}

  // The next batch of up to `max` records (1 to kMaxBatch), locked for
  // kLockDuration; nullopt when there is none.
  std::optional<FeedbackBatch> Receive(size_t max = kMaxBatch);
  // DeviceMessageLockLost when the token is unknown, settled, or its lock ran out.
  Status Complete(const std::string& lock_token);
  // The records go back to the queue for the next Receive. DeviceMessageLockLost as Complete.
  Status Abandon(const std::string& lock_token);

 private:
  FeedbackStore& store_;
  std::function<TimePoint()> clock_;
};

}  // namespace iothub
