#include "transport/pending_connections.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace iothub::transport {

std::optional<PendingSlot> PendingConnections::TryTake() {
  if (count_ < max_) return PendingSlot(count_);
  // Refusals come in floods when they come: one line now and then says enough.
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now().time_since_epoch()).count();
  int64_t last = last_refusal_logged_.load();
  if (now - last >= 10 && last_refusal_logged_.compare_exchange_strong(last, now)) {
    spdlog::warn("{}: {} connections are waiting to sign in; closing new ones until they do", protocol_, max_);
  }
  return std::nullopt;
}

}  // namespace iothub::transport
