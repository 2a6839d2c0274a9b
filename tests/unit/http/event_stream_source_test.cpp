// The event stream's body, driven as an event loop would: TryNext until it is
// empty, then WhenReady, over a real event log (":memory:") and timers that run
// only when the test moves their clock on.
#include "http/event_stream_source.h"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "http/event_json.h"
#include "integration/wait_until.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_event_store.h"
#include "unit/core/fake_connection.h"

namespace iothub::http {
namespace {

using namespace std::chrono_literals;
using testing::ManualTimers;

constexpr std::string_view kOpen = ": open\n\n";
constexpr std::string_view kKeepAlive = ": keep-alive\n\n";

// A WhenReady callback that counts its calls. It holds its state by shared pointer,
// as the contract asks: a call may come after the source is gone.
class Ready {
 public:
  std::function<void()> Callback() const {
    return [s = state_] {
      {
        std::lock_guard lock(s->mu);
        ++s->calls;
      }
      s->cv.notify_all();
    };
  }
  int calls() const {
    std::lock_guard lock(state_->mu);
    return state_->calls;
  }
  bool WaitForCall() const {
    std::unique_lock lock(state_->mu);
    return state_->cv.wait_for(lock, 10s, [&] { return state_->calls > 0; });
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    int calls = 0;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

Event DeviceEvent(const std::string& device, const std::string& body) {
  Event e;
  e.body = body;
  e.annotations = {{"iothub-connection-device-id", device}};
  return e;
}

// A log with 4 partitions and the timers, and a barrier: the last subscriber to the
// log's commits, so once it has seen a commit, every source has too.
class Hub {
 public:
  Hub() = default;

  std::unique_ptr<EventStreamSource> Open(std::optional<std::string> device = std::nullopt, int max_open = 64,
                                          std::vector<int> partitions = {}) {
    auto source = EventStreamSource::Open(log, timers, log.NextSequenceNumbers(), std::move(partitions),
                                          std::move(device), max_open);
    barrier_ = log.OnCommit([this] {
      {
        std::lock_guard lock(mu_);
        ++commits_;
      }
      cv_.notify_all();
    });
    return source;
  }

  // Appends, and returns once the event is stored and every subscriber has heard of it.
  void Append(const std::string& device, const std::string& body) {
    auto done = std::make_shared<std::promise<Status>>();
    auto stored = done->get_future();
    log.Append(DeviceEvent(device, body), [done](const Status& s) { done->set_value(s); });
    REQUIRE(stored.wait_for(10s) == std::future_status::ready);
    REQUIRE(stored.get().ok());
    std::unique_lock lock(mu_);
    REQUIRE(cv_.wait_for(lock, 10s, [&] { return commits_ >= log.commit_count(); }));
  }

  // The SSE frame the stream sends for the latest event of `device`, alone in its batch
  // of a stream that started with the log empty.
  std::string FrameOfLast(const std::string& device) {
    const int p = log.PartitionOf(device);
    const auto events = log.ReadPartition(p, 0, 1000);
    REQUIRE(!events.empty());
    StreamPosition position = log.NextSequenceNumbers();
    return "id: " + FormatStreamPosition(position) + "\nevent: message\ndata: " + EventToJsonText(*events.back()) +
           "\n\n";
  }

  storage::SqliteDatabase db{":memory:"};
  storage::SqliteEventStore store{db};
  EventLog log{store, {4, std::chrono::hours(1), 4096, {}}};
  ManualTimers timers;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t commits_ = 0;  // guarded by mu_
  EventLog::Subscription barrier_;
};

}  // namespace

TEST_CASE("EventStreamSource: ': open' first, then nothing until a commit calls back, then the batch") {
  Hub hub;
  auto source = hub.Open();
  REQUIRE(source);
  CHECK(source->TryNext() == kOpen);
  CHECK(source->TryNext().empty());
  Ready ready;
  source->WhenReady(ready.Callback());
  CHECK(ready.calls() == 0);
  hub.Append("dev1", "m0");
  CHECK(ready.WaitForCall());
  CHECK(source->TryNext() == hub.FrameOfLast("dev1"));
  // Once: the next commit does not call it again.
  hub.Append("dev1", "m1");
  CHECK(ready.calls() == 1);
}

TEST_CASE("EventStreamSource: WhenReady never calls back inline: text already there is posted to the timers") {
  Hub hub;
  auto source = hub.Open();
  CHECK(source->TryNext() == kOpen);
  CHECK(source->TryNext().empty());
  hub.Append("dev1", "m0");  // committed while nobody waited
  Ready ready;
  source->WhenReady(ready.Callback());
  CHECK(ready.calls() == 0);
  hub.timers.Advance(0ms);
  CHECK(ready.calls() == 1);
  CHECK(source->TryNext() == hub.FrameOfLast("dev1"));
}

TEST_CASE("EventStreamSource: a keep-alive once kHeartbeat passed with nothing sent, then again") {
  Hub hub;
  auto source = hub.Open();
  CHECK(source->TryNext() == kOpen);
  for (int round = 0; round < 2; ++round) {
    CAPTURE(round);
    CHECK(source->TryNext().empty());
    Ready ready;
    source->WhenReady(ready.Callback());
    hub.timers.Advance(EventStreamSource::kHeartbeat - 1ms);
    CHECK(ready.calls() == 0);
    hub.timers.Advance(1ms);
    CHECK(ready.calls() == 1);
    CHECK(source->TryNext() == kKeepAlive);
  }
}

TEST_CASE("EventStreamSource: a batch restarts the heartbeat's time") {
  Hub hub;
  auto source = hub.Open();
  CHECK(source->TryNext() == kOpen);
  CHECK(source->TryNext().empty());
  Ready first;
  source->WhenReady(first.Callback());  // the heartbeat would be due at 2 s
  hub.timers.Advance(1500ms);
  hub.Append("dev1", "m0");
  REQUIRE(first.WaitForCall());
  CHECK(source->TryNext() == hub.FrameOfLast("dev1"));
  CHECK(source->TryNext().empty());
  Ready second;
  source->WhenReady(second.Callback());  // sent at 1.5 s: due at 3.5 s
  hub.timers.Advance(1000ms);
  CHECK(second.calls() == 0);
  hub.timers.Advance(1000ms);
  CHECK(second.calls() == 1);
  CHECK(source->TryNext() == kKeepAlive);
}

TEST_CASE("EventStreamSource: with a device, only its events, and other devices' keep the heartbeat's time") {
  Hub hub;
  auto source = hub.Open("dev1");
  CHECK(source->TryNext() == kOpen);
  hub.Append("dev2", "theirs-0");
  hub.Append("dev1", "mine-0");
  const std::string text(source->TryNext());
  CHECK(text.find("mine-0") != std::string::npos);
  CHECK(text.find("theirs-0") == std::string::npos);
  CHECK(text.find("event: message") == text.rfind("event: message"));  // one event

  // Nothing of dev1's for 2 s: a keep-alive, however much dev2 sends.
  Ready ready;
  std::string_view next = source->TryNext();
  CHECK(next.empty());
  source->WhenReady(ready.Callback());
  hub.timers.Advance(1000ms);
  hub.Append("dev2", "theirs-1");
  REQUIRE(ready.WaitForCall());  // a commit: maybe text
  CHECK(source->TryNext().empty());  // but not for this reader
  Ready again;
  source->WhenReady(again.Callback());
  hub.timers.Advance(1000ms);
  CHECK(again.calls() == 1);
  CHECK(source->TryNext() == kKeepAlive);
}

TEST_CASE("EventStreamSource: right after a batch, commits wait for the pacing timer") {
  // Pacing runs on the real clock: the first part needs the few statements between
  // a batch and WhenReady to take less than kPacing, which a stalled machine may not.
  int attempt = 0;
  for (; attempt < 10; ++attempt) {
    Hub hub;
    auto source = hub.Open();
    CHECK(source->TryNext() == kOpen);
    hub.Append("dev1", "m0");
    const auto start = std::chrono::steady_clock::now();
    CHECK(source->TryNext() == hub.FrameOfLast("dev1"));  // after a quiet spell: at once
    CHECK(source->TryNext().empty());
    Ready ready;
    source->WhenReady(ready.Callback());
    if (std::chrono::steady_clock::now() - start >= EventStreamSource::kPacing) continue;
    hub.Append("dev1", "m1");
    CHECK(ready.calls() == 0);  // held for pacing
    hub.timers.Advance(EventStreamSource::kPacing);
    CHECK(ready.calls() == 1);  // the pacing timer: a commit came meanwhile
    std::string text;
    CHECK(testing::WaitUntil([&] { return !(text = std::string(source->TryNext())).empty(); }, 10s, 1ms));
    CHECK(text == hub.FrameOfLast("dev1"));
    break;
  }
  CHECK(attempt < 10);
}

TEST_CASE("EventStreamSource: destroyed with a WhenReady pending, it cancels its timers and never calls back") {
  Hub hub;
  Ready ready, posted;
  {
    auto source = hub.Open();
    CHECK(source->TryNext() == kOpen);
    CHECK(source->TryNext().empty());
    source->WhenReady(ready.Callback());
    CHECK(hub.timers.Scheduled() == 1);  // the heartbeat
  }
  CHECK(hub.timers.Scheduled() == 0);
  {
    auto source = hub.Open();
    CHECK(source->TryNext() == kOpen);
    source->WhenReady(posted.Callback());  // nothing read yet: posted at once
  }
  CHECK(hub.timers.Scheduled() == 0);
  hub.Append("dev1", "m0");
  hub.timers.Advance(10s);
  CHECK(ready.calls() == 0);
  CHECK(posted.calls() == 0);
}

TEST_CASE("EventStreamSource: destroyed while another thread commits, no callback runs after it") {
  Hub hub;
  std::atomic<bool> stop{false};
  std::thread appender([&] {
    while (!stop) {
      std::promise<void> stored;  // one at a time: the writer never falls far behind
      hub.log.Append(DeviceEvent("dev1", "x"), [&stored](const Status&) { stored.set_value(); });
      stored.get_future().wait();
    }
  });
  // The sources read a partition dev1's events never reach: never paced, every commit calls back.
  const int elsewhere = (hub.log.PartitionOf("dev1") + 1) % hub.log.partition_count();
  std::atomic<int> late{0}, called{0};
  for (int round = 0; round < 200; ++round) {
    struct Probe {
      std::atomic<bool> destroyed{false};
      std::atomic<int> calls{0};
    };
    auto probe = std::make_unique<Probe>();  // freed right after: a late call is a use after free too (ASan)
    {
      auto source = hub.Open(std::nullopt, 64, {elsewhere});
      CHECK(source->TryNext() == kOpen);
      CHECK(source->TryNext().empty());
      source->WhenReady([&late, p = probe.get()] {
        if (p->destroyed) ++late;
        ++p->calls;
      });
      const auto until = std::chrono::steady_clock::now() + 2ms;
      while (probe->calls == 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    }
    probe->destroyed = true;
    called += probe->calls;
    probe.reset();
  }
  stop = true;
  appender.join();
  CHECK(late == 0);
  CHECK(called > 0);  // commits did call back while a source waited
}

TEST_CASE("EventStreamSource: at most max_open at once, and a closed one frees its place") {
  Hub hub;
  auto first = hub.Open(std::nullopt, 2);
  auto second = hub.Open(std::nullopt, 2);
  CHECK(first);
  CHECK(second);
  CHECK(!hub.Open(std::nullopt, 2));
  first.reset();
  CHECK(hub.Open(std::nullopt, 2));
}

}  // namespace iothub::http
