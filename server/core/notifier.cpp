#include "core/notifier.h"

#include <algorithm>

namespace iothub {

Notifier::Subscription Notifier::Subscribe(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  const uint64_t id = next_id_++;
  subscribers_.emplace_back(id, std::move(fn));
  has_subscribers_ = true;
  return Subscription(this, id);
}

void Notifier::Notify() {
  // A subscriber arriving meanwhile may be missed: it looks for itself after subscribing.
  if (!has_subscribers_) return;
  // Under the lock, so that Unsubscribe returns only once its callback is not running.
  std::lock_guard lock(mu_);
  for (auto& [id, fn] : subscribers_) fn();
}

void Notifier::Unsubscribe(uint64_t id) {
  std::function<void()> gone;  // destroyed after the lock is released: what it holds may be anything
  std::lock_guard lock(mu_);
  auto it = std::find_if(subscribers_.begin(), subscribers_.end(), [id](const auto& s) { return s.first == id; });
  if (it == subscribers_.end()) return;
  gone = std::move(it->second);
  subscribers_.erase(it);
  has_subscribers_ = !subscribers_.empty();
}

void Notifier::Subscription::Reset() {
  if (notifier_) std::exchange(notifier_, nullptr)->Unsubscribe(id_);
}

Notifier::Subscription& Notifier::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    notifier_ = std::exchange(other.notifier_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

}  // namespace iothub
