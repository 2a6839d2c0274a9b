// The body of one open event stream (GET /emulator/events/stream): Server-Sent
// Events read live from the event log, produced for whatever writes them out.
// Push-driven: it holds no thread; commits (EventLog::OnCommit) and timers say
// when there is something to send.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/event_reader.h"
#include "core/timers.h"
#include "http/event_stream.h"
#include "http/http_message.h"

namespace iothub::http {

class EventStreamSource final : public ChunkSource {
 public:
  // A keep-alive comment goes out after this long with nothing to send. A reader that
  // hung up is noticed when a write fails, the second write after it left: within two of these.
  static constexpr auto kHeartbeat = std::chrono::seconds(2);
  static constexpr size_t kBatch = 200;
  // Under load, one batch per this interval, not one per commit (EventReader::set_pacing):
  // fewer wake-ups and system calls per event; at low rates an event still goes out at once.
  static constexpr auto kPacing = std::chrono::milliseconds(5);

  // A stream from `start`, reading `partitions` (all when empty) and keeping only the
  // events of `device` when given. At most `max_open` exist at once across the process
  // (a resource cap): nullptr when that many are open. `log` and `timers` (the heartbeat
  // and pacing deadlines) must outlive the source.
  static std::unique_ptr<EventStreamSource> Open(EventLog& log, Timers& timers, StreamPosition start,
                                                 std::vector<int> partitions, std::optional<std::string> device,
                                                 int max_open);
  // Frees its place among the open streams; cancels its subscription and timers. A
  // pending WhenReady callback is dropped (one already started may still be running).
  ~EventStreamSource() override;

  // ": open" first (from then on every event reaches this reader), then each batch
  // of events as SSE frames in one chunk ("id: <position>", "event: message", the
  // event's JSON), or ": keep-alive" after kHeartbeat with nothing sent.
  std::string_view TryNext() override;
  // `ready` runs on the log's writer thread (a commit) or the timers' thread.
  void WhenReady(std::function<void()> ready) override;

 private:
  struct Wake;  // what the commit and timer callbacks share with the source

  EventStreamSource(EventLog& log, Timers& timers, StreamPosition start, std::vector<int> partitions,
                    std::optional<std::string> device);

  EventReader reader_;
  Timers& timers_;
  std::optional<std::string> device_;
  std::string frames_;  // one batch's frames; cleared, not freed, between batches
  bool opened_ = false;
  uint64_t read_commits_ = 0;      // Wake::commits before the last read pacing did not hold back
  bool more_ = true;               // more may be waiting: the last read was full, or there was none yet
  bool restart_heartbeat_ = true;  // something went out since the heartbeat timer was set
  // The timers this source set, for the destructor to cancel (a spent one cancels nothing).
  Timers::Id heartbeat_timer_ = 0;
  Timers::Id pacing_timer_ = 0;
  Timers::Id post_timer_ = 0;
  std::shared_ptr<Wake> wake_;
  EventLog::Subscription commits_;  // last: nothing calls into the source before the rest exists
};

}  // namespace iothub::http
