// Deadlines without a thread each: Timers runs a callback once a delay has
// passed, unless it is cancelled first. TimerThread is the real one (one thread
// for all timers, deadline-ordered); unit tests drive a manual fake instead.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace iothub {

class Timers {
 public:
  using Id = uint64_t;
  using Duration = std::chrono::steady_clock::duration;

  virtual ~Timers() = default;
  // Runs `fn` once, after `delay`, on the timers' own thread. Never runs it inline.
  virtual Id After(Duration delay, std::function<void()> fn) = 0;
  // True if the callback had not started and now never will; false if it ran,
  // is running, or was already cancelled.
  virtual bool Cancel(Id id) = 0;
};

// One thread that sleeps until the earliest deadline. Callbacks run on it one
// at a time, outside its lock (a callback may schedule or cancel timers), and
// must not block. Thread-safe. Destruction drops the callbacks still waiting.
class TimerThread final : public Timers {
 public:
  TimerThread();
  ~TimerThread() override;
  TimerThread(const TimerThread&) = delete;
  TimerThread& operator=(const TimerThread&) = delete;

  Id After(Duration delay, std::function<void()> fn) override;
  bool Cancel(Id id) override;

 private:
  using Deadline = std::chrono::steady_clock::time_point;
  void Loop();

  std::mutex mu_;
  std::condition_variable wake_;
  std::multimap<Deadline, std::pair<Id, std::function<void()>>> queue_;  // guarded by mu_
  std::map<Id, Deadline> deadlines_;                                    // guarded by mu_: what Cancel can still stop
  Id next_id_ = 1;                                                      // guarded by mu_
  bool stopping_ = false;                                               // guarded by mu_
  std::thread thread_;  // last: started once the rest exists
};

}  // namespace iothub
