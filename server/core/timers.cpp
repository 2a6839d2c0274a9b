#include "core/timers.h"

namespace iothub {

TimerThread::TimerThread() : thread_([this] { Loop(); }) {}

TimerThread::~TimerThread() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Timers::Id TimerThread::After(Duration delay, std::function<void()> fn) {
  std::lock_guard lock(mu_);
  const Id id = next_id_++;
  const Deadline at = std::chrono::steady_clock::now() + delay;
  const bool earliest = queue_.empty() || at < queue_.begin()->first;
  queue_.emplace(at, std::make_pair(id, std::move(fn)));
  deadlines_[id] = at;
  // Only a new earliest deadline shortens the thread's sleep.
  if (earliest) wake_.notify_all();
  return id;
}

bool TimerThread::Cancel(Id id) {
  std::lock_guard lock(mu_);
  auto it = deadlines_.find(id);
  if (it == deadlines_.end()) return false;
  auto [first, last] = queue_.equal_range(it->second);
  for (auto q = first; q != last; ++q) {
    if (q->second.first == id) {
      queue_.erase(q);
      break;
    }
  }
  deadlines_.erase(it);
  return true;
}

void TimerThread::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (queue_.empty()) {
      wake_.wait(lock);
      continue;
    }
    auto first = queue_.begin();
    // A copy: while this waits, a Cancel may erase the entry the deadline lives in.
    const Deadline at = first->first;
    if (std::chrono::steady_clock::now() < at) {
      wake_.wait_until(lock, at);
      continue;  // woken early, by a new deadline, or a cancel: look again
    }
    std::function<void()> fn = std::move(first->second.second);
    deadlines_.erase(first->second.first);
    queue_.erase(first);
    lock.unlock();
    fn();
    lock.lock();
  }
}

}  // namespace iothub
