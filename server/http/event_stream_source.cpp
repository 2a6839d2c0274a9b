#include "http/event_stream_source.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <utility>

#include "http/event_json.h"

namespace iothub::http {
namespace {

std::atomic<int> g_open_streams{0};

constexpr std::string_view kOpen = ": open\n\n";
// Nothing new: a comment line, so that a reader that went away is noticed.
constexpr std::string_view kKeepAlive = ": keep-alive\n\n";

void Call(std::function<void()> ready) {
  if (ready) ready();
}

}  // namespace

// Shared with the commit and timer callbacks, which may outlive the source (a timer
// that had started when the destructor cancelled it): they never touch the source
// itself, only this and the pending `ready`.
struct EventStreamSource::Wake {
  std::mutex mu;
  std::function<void()> ready;  // guarded by mu: the pending WhenReady callback
  bool on_commit = false;       // guarded by mu: the next commit calls `ready` (pacing is not holding it)
  uint64_t commits = 0;         // guarded by mu: commits since the stream opened
  uint64_t read_commits = 0;    // guarded by mu: `commits` when the source last read (for the pacing timer)
  bool heartbeat_due = false;   // guarded by mu: nothing went out for kHeartbeat
  uint64_t heartbeat = 0;       // guarded by mu: which heartbeat timer counts; earlier ones are stale
  bool heartbeat_set = false;   // guarded by mu: that timer has not fired yet
  bool pacing_set = false;      // guarded by mu: a pacing timer has not fired yet

  // With mu held; the caller calls it once mu is released (`ready` may take locks of its own).
  std::function<void()> TakeReady() {
    on_commit = false;
    return std::exchange(ready, nullptr);
  }
};

std::unique_ptr<EventStreamSource> EventStreamSource::Open(EventLog& log, Timers& timers, StreamPosition start,
                                                           std::vector<int> partitions,
                                                           std::optional<std::string> device, int max_open) {
  if (g_open_streams.fetch_add(1) >= max_open) {
    g_open_streams--;
    return nullptr;
  }
  return std::unique_ptr<EventStreamSource>(
      new EventStreamSource(log, timers, std::move(start), std::move(partitions), std::move(device)));
}

EventStreamSource::EventStreamSource(EventLog& log, Timers& timers, StreamPosition start,
                                     std::vector<int> partitions, std::optional<std::string> device)
    : reader_(log, std::move(start), std::move(partitions)),
      timers_(timers),
      device_(std::move(device)),
      wake_(std::make_shared<Wake>()) {
  reader_.set_pacing(kPacing);
  // Subscribed before the first read, so no commit falls between the two.
  commits_ = log.OnCommit([wake = wake_] {
    std::function<void()> ready;
    {
      std::lock_guard lock(wake->mu);
      ++wake->commits;
      if (wake->on_commit) ready = wake->TakeReady();
    }
    Call(std::move(ready));
  });
}

EventStreamSource::~EventStreamSource() {
  commits_.Reset();  // once this returns, no commit calls back
  std::function<void()> dropped;
  {
    std::lock_guard lock(wake_->mu);
    dropped = wake_->TakeReady();
  }
  // A timer already running finds no `ready` (or has taken it, and runs it as the contract allows).
  for (Timers::Id id : {heartbeat_timer_, pacing_timer_, post_timer_}) {
    if (id) timers_.Cancel(id);
  }
  g_open_streams--;
}

std::string_view EventStreamSource::TryNext() {
  if (!opened_) {
    opened_ = true;
    return kOpen;
  }
  bool heartbeat_due = false;
  uint64_t commits = 0;
  {
    std::lock_guard lock(wake_->mu);
    commits = wake_->commits;
    heartbeat_due = std::exchange(wake_->heartbeat_due, false);
  }
  StreamPosition position = reader_.next();
  // Held back or not, decided now (TryRead decides again, later: the same, or no longer held).
  const bool paced = reader_.paced_until().has_value();
  const auto events = reader_.TryRead(kBatch);
  // Counted before reading: what this read saw is read, and a commit after it is news.
  if (!paced) read_commits_ = commits;
  more_ = events.size() >= kBatch;
  // All of a batch in one chunk: one write, one system call.
  frames_.clear();
  for (const EventPtr& e : events) {
    position[e->partition] = e->sequence_number + 1;
    if (device_) {
      const std::string* from = e->Annotation("iothub-connection-device-id");
      if (!from || *from != *device_) continue;
    }
    frames_ += "id: ";
    AppendStreamPosition(frames_, position);
    frames_ += "\nevent: message\ndata: ";
    if (e->renderings) {
      frames_ += e->renderings->Get(EventRenderings::kEventStreamJson, [&] { return EventToJsonText(*e); });
    } else {
      frames_ += EventToJsonText(*e);
    }
    frames_ += "\n\n";
  }
  if (!frames_.empty()) {
    restart_heartbeat_ = true;
    return frames_;
  }
  // A batch of other devices' events only sends nothing, and keeps the heartbeat's time.
  if (heartbeat_due) {
    restart_heartbeat_ = true;
    return kKeepAlive;
  }
  return {};
}

void EventStreamSource::WhenReady(std::function<void()> ready) {
  const auto paced_until = reader_.paced_until();
  bool post = false, set_pacing = false, set_heartbeat = false;
  uint64_t heartbeat = 0;
  std::function<void()> replaced;
  {
    std::lock_guard lock(wake_->mu);
    replaced = std::exchange(wake_->ready, std::move(ready));
    if (restart_heartbeat_ || !wake_->heartbeat_set) {
      // Text went out just before this call: the heartbeat counts from now, and one
      // that came due while the text was going out is spent.
      if (restart_heartbeat_) wake_->heartbeat_due = false;
      restart_heartbeat_ = false;
      heartbeat = ++wake_->heartbeat;
      wake_->heartbeat_set = true;
      set_heartbeat = true;
    }
    wake_->on_commit = false;
    if (more_ || wake_->heartbeat_due) {
      post = true;  // TryNext has text now; `ready` is never called inline
    } else if (paced_until) {
      // Commits do not call back while pacing holds the batch: its timer does, if any came.
      wake_->read_commits = read_commits_;
      set_pacing = !wake_->pacing_set;
      wake_->pacing_set = true;
    } else if (wake_->commits != read_commits_) {
      post = true;  // committed after the last read
    } else {
      wake_->on_commit = true;
    }
  }
  replaced = nullptr;

  // The short timers first: the heartbeat is then seldom the earliest deadline, which
  // would wake the timers' thread once more.
  if (post) {
    post_timer_ = timers_.After({}, [wake = wake_] {
      std::function<void()> ready;
      {
        std::lock_guard lock(wake->mu);
        ready = wake->TakeReady();
      }
      Call(std::move(ready));
    });
  }
  if (set_pacing) {
    const auto delay = std::max<Timers::Duration>(*paced_until - std::chrono::steady_clock::now(), {});
    pacing_timer_ = timers_.After(delay, [wake = wake_] {
      std::function<void()> ready;
      {
        std::lock_guard lock(wake->mu);
        wake->pacing_set = false;
        if (!wake->ready) return;
        // Nothing came meanwhile: the next commit calls back, at once now.
        if (wake->commits == wake->read_commits) {
          wake->on_commit = true;
          return;
        }
        ready = wake->TakeReady();
      }
      Call(std::move(ready));
    });
  }
  if (set_heartbeat) {
    if (heartbeat_timer_) timers_.Cancel(heartbeat_timer_);
    heartbeat_timer_ = timers_.After(kHeartbeat, [wake = wake_, heartbeat] {
      std::function<void()> ready;
      {
        std::lock_guard lock(wake->mu);
        if (heartbeat != wake->heartbeat) return;  // a later one replaced it
        wake->heartbeat_set = false;
        wake->heartbeat_due = true;
        ready = wake->TakeReady();
      }
      Call(std::move(ready));
    });
  }
}

}  // namespace iothub::http
