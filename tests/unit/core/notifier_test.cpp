#include "core/notifier.h"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace iothub {

TEST_CASE("Notifier: every subscriber is told of each notice until it unsubscribes") {
  Notifier notifier;
  notifier.Notify();  // nobody listens: nothing happens
  int a = 0, b = 0;
  auto first = notifier.Subscribe([&] { ++a; });
  {
    auto second = notifier.Subscribe([&] { ++b; });
    notifier.Notify();
    CHECK(a == 1);
    CHECK(b == 1);
  }  // destroyed: unsubscribed
  notifier.Notify();
  CHECK(a == 2);
  CHECK(b == 1);
  Notifier::Subscription moved = std::move(first);
  CHECK_FALSE(first);
  CHECK(moved);
  notifier.Notify();
  CHECK(a == 3);
  moved.Reset();
  notifier.Notify();
  CHECK(a == 3);
}

TEST_CASE("Notifier: once Reset returns, the callback is not running and never runs again") {
  Notifier notifier;
  std::atomic<bool> unsubscribed{false};
  std::atomic<bool> ran_after{false};
  std::atomic<int> calls{0};
  auto subscription = notifier.Subscribe([&] {
    if (unsubscribed) ran_after = true;
    ++calls;
  });
  std::atomic<bool> stop{false};
  std::thread notifying([&] {
    while (!stop) notifier.Notify();
  });
  while (calls < 100) std::this_thread::yield();
  subscription.Reset();
  unsubscribed = true;
  const int seen = calls;
  for (int i = 0; i < 1000; ++i) notifier.Notify();
  stop = true;
  notifying.join();
  CHECK_FALSE(ran_after);
  CHECK(calls == seen);
}

}  // namespace iothub
