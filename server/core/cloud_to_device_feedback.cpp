#include "core/cloud_to_device_feedback.h"

#include <algorithm>

#include "core/crypto.h"

namespace iothub {

const char* FeedbackStatusName(FeedbackStatus status) {
  switch (status) {
    case FeedbackStatus::kSuccess: return "Success";
    case FeedbackStatus::kExpired: return "Expired";
    case FeedbackStatus::kDeliveryCountExceeded: return "DeliveryCountExceeded";
    case FeedbackStatus::kRejected: return "Rejected";
    case FeedbackStatus::kPurged: return "Purged";
  }
  return "Success";
}

std::optional<FeedbackStatus> FeedbackStatusFromName(const std::string& name) {
  for (FeedbackStatus s : {FeedbackStatus::kSuccess, FeedbackStatus::kExpired, FeedbackStatus::kDeliveryCountExceeded,
                           FeedbackStatus::kRejected, FeedbackStatus::kPurged}) {
    if (name == FeedbackStatusName(s)) return s;
  }
  return std::nullopt;
}

bool AckWantsFeedback(const std::string& ack, FeedbackStatus status) {
  if (ack == "full") return true;
  if (ack == "positive") return status == FeedbackStatus::kSuccess;
  if (ack == "negative") return status != FeedbackStatus::kSuccess;
  return false;
}

FeedbackRecord MakeFeedbackRecord(const std::string& original_message_id, const std::string& device_id,
                                  const std::string& device_generation_id, FeedbackStatus status, TimePoint when) {
  FeedbackRecord r;
  r.original_message_id = original_message_id;
  r.device_id = device_id;
  r.device_generation_id = device_generation_id;
  r.enqueued_time = when;
  r.status = status;
  // IoT Hub's sample record says "Success" for both; the others name the outcome.
  switch (status) {
    case FeedbackStatus::kSuccess: r.description = "Success"; break;
    case FeedbackStatus::kExpired: r.description = "Message expired"; break;
    case FeedbackStatus::kDeliveryCountExceeded: r.description = "Message delivery count exceeded"; break;
    case FeedbackStatus::kRejected: r.description = "Message rejected"; break;
    case FeedbackStatus::kPurged: r.description = "Message purged"; break;
  }
  return r;
}

std::optional<FeedbackBatch> CloudToDeviceFeedback::Receive(size_t max) {
  max = std::clamp<size_t>(max, 1, kMaxBatch);
  const TimePoint now = clock_();
  FeedbackBatch batch;
  batch.lock_token = crypto::RandomUuid();
  batch.records = store_.LockFeedback(max, batch.lock_token, now, now + kLockDuration, now - kTimeToLive);
  if (batch.records.empty()) return std::nullopt;
  return batch;
}

Status CloudToDeviceFeedback::Complete(const std::string& lock_token) {
  if (lock_token.empty() || store_.CompleteFeedback(lock_token, clock_()) == 0) {
    return Status::LockLost("Feedback lock token '" + lock_token + "' is unknown, settled or expired");
  }
  return Status::Ok();
}

Status CloudToDeviceFeedback::Abandon(const std::string& lock_token) {
  if (lock_token.empty() || store_.AbandonFeedback(lock_token, clock_()) == 0) {
    return Status::LockLost("Feedback lock token '" + lock_token + "' is unknown, settled or expired");
  }
  return Status::Ok();
}

}  // namespace iothub
