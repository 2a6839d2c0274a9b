// The allowance of connections that have not signed in yet. A stranger's
// connection holds buffers before it proves anything, so a protocol's listeners
// share one cap; a connection gives its slot back when it signs in or ends.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace iothub::transport {

// A place among the connections not yet signed in; given back when destroyed.
class PendingSlot {
 public:
  explicit PendingSlot(std::atomic<size_t>& count) : count_(&count) { ++*count_; }
  PendingSlot(PendingSlot&& other) noexcept : count_(std::exchange(other.count_, nullptr)) {}
  PendingSlot& operator=(PendingSlot&&) = delete;
  ~PendingSlot() {
    if (count_) --*count_;
  }

 private:
  std::atomic<size_t>* count_;
};

class PendingConnections {
 public:
  // protocol: for the log line ("MQTT").
  PendingConnections(std::string protocol, size_t max) : protocol_(std::move(protocol)), max_(max) {}

  // A slot, or nullopt when `max` connections are already waiting (logged at most every 10 s).
  // Outstanding slots must not outlive this object.
  std::optional<PendingSlot> TryTake();
  size_t count() const { return count_; }

 private:
  const std::string protocol_;
  const size_t max_;
  std::atomic<size_t> count_{0};
  std::atomic<int64_t> last_refusal_logged_{0};  // steady-clock seconds
};

}  // namespace iothub::transport
