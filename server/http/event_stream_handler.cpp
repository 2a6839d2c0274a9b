// GET /emulator/events/stream: the event log as Server-Sent Events, live.
#include <atomic>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/event_reader.h"
#include "core/time_format.h"
#include "http/error_response.h"
#include "http/event_json.h"
#include "http/event_stream.h"
#include "http/handlers.h"
#include "http/request_auth.h"

namespace iothub::http {
namespace {

// A comment line this often when there is nothing to send. A reader that hung up is
// noticed when a write fails, which is the second write after it left: within two of these.
constexpr auto kHeartbeat = std::chrono::seconds(2);
constexpr size_t kBatch = 200;
// Under load, one write per this interval, not one per commit (EventReader::set_pacing):
// fewer wake-ups and system calls per event; at low rates an event still goes out at once.
constexpr auto kPacing = std::chrono::milliseconds(5);

std::atomic<int> g_open_streams{0};

std::optional<TimePoint> ParseIsoTime(const std::string& text) {
  std::tm tm{};
  int millis = 0;
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits++ < 3) millis = millis * 10 + (*rest - '0');
      ++rest;
    }
    while (digits++ < 3) millis *= 10;
  }
  if (*rest != 'Z' && *rest != '\0') return std::nullopt;
  return Clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(millis);
}

// Where a new stream starts: from=earliest|latest|<sequence number>|<ISO 8601 time>.
Result<StreamPosition> StartPosition(const HttpContext& ctx, const httplib::Request& req) {
  const int partitions = ctx.events.partition_count();
  if (req.has_header("Last-Event-ID")) {
    auto resumed = ParseStreamPosition(req.get_header_value("Last-Event-ID"), partitions);
    if (!resumed) return Status::ArgumentInvalid("Last-Event-ID is not a position this stream gave out");
    return *resumed;
  }
  const std::string from = req.has_param("from") ? req.get_param_value("from") : "latest";
  if (from == "latest") return ctx.events.NextSequenceNumbers();
  if (from == "earliest") return StreamPosition(partitions, 0);
  int64_t sequence = 0;
  auto [end, ec] = std::from_chars(from.data(), from.data() + from.size(), sequence);
  if (ec == std::errc() && end == from.data() + from.size() && sequence >= 0) {
    return StreamPosition(partitions, sequence);
  }
  auto time = ParseIsoTime(from);
  if (!time) {
    return Status::ArgumentInvalid("'from' must be earliest, latest, a sequence number or an ISO 8601 time, not '" +
                                   from + "'");
  }
  // The first event at or after that time, per partition.
  StreamPosition position(partitions);
  for (int p = 0; p < partitions; ++p) position[p] = ResolvePosition(ctx.events, p, EventPosition::EnqueuedTime(*time));
  return position;
}

}  // namespace

void StreamEvents(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res) {
  if (!Authorize(ctx, req, res, "messages/events", kServiceConnect)) return;
  std::optional<int> only_partition;
  if (req.has_param("partition")) {
    const std::string text = req.get_param_value("partition");
    int p = -1;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), p);
    if (ec != std::errc() || end != text.data() + text.size() || p < 0 || p >= ctx.events.partition_count()) {
      return WriteError(res, Status::ArgumentInvalid("'partition' must be 0 to " +
                                                     std::to_string(ctx.events.partition_count() - 1)));
    }
    only_partition = p;
  }
  auto start = StartPosition(ctx, req);
  if (!start.ok()) return WriteError(res, start.status());
  // Each open stream holds a worker thread; leave some for the REST API.
  if (g_open_streams.fetch_add(1) >= ctx.max_streams) {
    g_open_streams--;
    return WriteError(res, {ErrorCode::kServiceUnavailable,
                            "Too many open event streams (" + std::to_string(ctx.max_streams) +
                                "); close one or start the emulator with more --http-threads"});
  }
  std::optional<std::string> device;
  if (req.has_param("deviceId")) device = req.get_param_value("deviceId");

  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  // A device's events are all in its partition: read only that one.
  std::vector<int> partitions;
  if (only_partition) {
    partitions.push_back(*only_partition);
  } else if (device) {
    partitions.push_back(ctx.events.PartitionOf(*device));
  }
  auto reader = std::make_shared<EventReader>(ctx.events, std::move(start).value(), std::move(partitions));
  reader->set_pacing(kPacing);
  // The frames of a batch, kept from one batch to the next: its capacity is reused.
  auto frames_buffer = std::make_shared<std::string>();
  res.set_chunked_content_provider(
      "text/event-stream",
      [reader, device, frames_buffer](size_t offset, httplib::DataSink& sink) {
        if (offset == 0) {
          // Tells the reader the stream is live: every event from here on reaches it.
          static const std::string kOpen = ": open\n\n";
          return sink.write(kOpen.data(), kOpen.size());
        }
        StreamPosition position = reader->next();
        auto events = reader->Read(kBatch, kHeartbeat);
        if (events.empty()) {
          // Nothing new: a comment line, so that a reader that went away is noticed.
          static const std::string kPing = ": keep-alive\n\n";
          if (!sink.write(kPing.data(), kPing.size())) return false;
          return sink.is_writable();
        }
        // All of them in one write: one chunk, one system call.
        std::string& frames = *frames_buffer;
        frames.clear();
        for (const EventPtr& e : events) {
          position[e->partition] = e->sequence_number + 1;
          if (device) {
            const std::string* from = e->Annotation("iothub-connection-device-id");
            if (!from || *from != *device) continue;
          }
          frames += "id: ";
          AppendStreamPosition(frames, position);
          frames += "\nevent: message\ndata: ";
          if (e->renderings) {
            frames += e->renderings->Get(EventRenderings::kEventStreamJson, [&] { return EventToJsonText(*e); });
          } else {
            frames += EventToJsonText(*e);
          }
          frames += "\n\n";
        }
        if (!frames.empty() && !sink.write(frames.data(), frames.size())) return false;
        return sink.is_writable();
      },
      [](bool) { g_open_streams--; });
}

}  // namespace iothub::http
