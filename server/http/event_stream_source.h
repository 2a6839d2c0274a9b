// The body of one open event stream (GET /emulator/events/stream): Server-Sent
// Events read live from the event log, produced for whatever writes them out.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/event_reader.h"
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
  // events of `device` when given. Each open stream holds a worker thread, so at most
  // `max_open` exist at once across the process: nullptr when that many are open.
  static std::unique_ptr<EventStreamSource> Open(EventLog& log, StreamPosition start, std::vector<int> partitions,
                                                 std::optional<std::string> device, int max_open);
  ~EventStreamSource() override;  // frees its place among the open streams

  // ": open" first (from then on every event reaches this reader), then each batch
  // of events as SSE frames in one chunk ("id: <position>", "event: message", the
  // event's JSON), or ": keep-alive" after kHeartbeat with nothing to send.
  std::string_view Next() override;

 private:
  EventStreamSource(EventLog& log, StreamPosition start, std::vector<int> partitions,
                    std::optional<std::string> device);

  EventReader reader_;
  std::optional<std::string> device_;
  bool opened_ = false;
  std::string frames_;  // one batch's frames; cleared, not freed, between batches
};

}  // namespace iothub::http
