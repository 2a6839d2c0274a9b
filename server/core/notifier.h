// A wake-up call for readers on other threads: whoever changes something calls Notify,
// and each subscriber is told that it may look again (it then reads for itself, so a
// notice carries nothing and several may be folded into one). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace iothub {

class Notifier {
 public:
  // A Subscribe callback's registration: destroying (or resetting) it unsubscribes, and once
  // that returns the callback is not running and never runs again. Movable. The notifier must
  // outlive it. Must not be reset from inside the callback, nor while holding a lock it takes.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept
        : notifier_(std::exchange(other.notifier_, nullptr)), id_(other.id_) {}
    Subscription& operator=(Subscription&& other) noexcept;
    ~Subscription() { Reset(); }
    void Reset();
    explicit operator bool() const { return notifier_ != nullptr; }

   private:
    friend class Notifier;
    Subscription(Notifier* notifier, uint64_t id) : notifier_(notifier), id_(id) {}
    Notifier* notifier_ = nullptr;
    uint64_t id_ = 0;
  };

  Notifier() = default;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // `fn` runs on the notifying thread, under the notifier's lock, for every Notify after
  // Subscribe returns: it must be cheap and must not block (post work elsewhere).
  [[nodiscard]] Subscription Subscribe(std::function<void()> fn);
  // Calls every subscriber's callback; without subscribers, one atomic load.
  void Notify();

 private:
  void Unsubscribe(uint64_t id);

  std::mutex mu_;
  std::vector<std::pair<uint64_t, std::function<void()>>> subscribers_;
  uint64_t next_id_ = 1;
  std::atomic<bool> has_subscribers_{false};
};

}  // namespace iothub
