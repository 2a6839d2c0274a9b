// Waiting for something another process or thread does, always with a deadline:
// a test waits for the event itself, never for a fixed time, and never forever.
#pragma once

#include <chrono>
#include <thread>

namespace iothub::testing {

// Polls condition until it holds or timeout has passed. True when it held; the
// condition is tried once more at the deadline, so a slow machine only makes
// the wait longer, never the answer different.
template <typename Condition>
bool WaitUntil(Condition&& condition, std::chrono::milliseconds timeout = std::chrono::seconds(10),
               std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(poll);
  }
  return true;
}

}  // namespace iothub::testing
