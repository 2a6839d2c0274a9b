#include "http/event_stream_source.h"

#include <algorithm>
#include <atomic>

#include "http/event_json.h"

namespace iothub::http {
namespace {

std::atomic<int> g_open_streams{0};

}  // namespace

std::unique_ptr<EventStreamSource> EventStreamSource::Open(EventLog& log, StreamPosition start,
                                                           std::vector<int> partitions,
                                                           std::optional<std::string> device, int max_open) {
  if (g_open_streams.fetch_add(1) >= max_open) {
    g_open_streams--;
    return nullptr;
  }
  return std::unique_ptr<EventStreamSource>(
      new EventStreamSource(log, std::move(start), std::move(partitions), std::move(device)));
}

EventStreamSource::EventStreamSource(EventLog& log, StreamPosition start, std::vector<int> partitions,
                                     std::optional<std::string> device)
    : reader_(log, std::move(start), std::move(partitions)), device_(std::move(device)) {
  reader_.set_pacing(kPacing);
}

EventStreamSource::~EventStreamSource() { g_open_streams--; }

std::string_view EventStreamSource::Next() {
  static constexpr std::string_view kOpen = ": open\n\n";
  // Nothing new: a comment line, so that a reader that went away is noticed.
  static constexpr std::string_view kKeepAlive = ": keep-alive\n\n";
  if (!opened_) {
    opened_ = true;
    return kOpen;
  }
  const auto deadline = std::chrono::steady_clock::now() + kHeartbeat;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    StreamPosition position = reader_.next();
    auto events = reader_.Read(kBatch, std::max(left, std::chrono::milliseconds(0)));
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
    if (!frames_.empty()) return frames_;
    // A batch of other devices' events only sends nothing, but keeps the heartbeat's time.
    if (std::chrono::steady_clock::now() >= deadline) return kKeepAlive;
  }
}

}  // namespace iothub::http
