// GET /emulator/events/stream: the event log as Server-Sent Events, live. This
// checks the request and opens the stream; http/event_stream_source.h produces it.
#include <charconv>

#include "core/event_reader.h"
#include "core/time_format.h"
#include "http/error_response.h"
#include "http/event_stream.h"
#include "http/event_stream_source.h"
#include "http/handlers.h"
#include "http/request_auth.h"

namespace iothub::http {
namespace {

// Where a new stream starts: from=earliest|latest|<sequence number>|<ISO 8601 time>.
Result<StreamPosition> StartPosition(const HttpContext& ctx, const HttpRequest& req) {
  const int partitions = ctx.events.partition_count();
  if (const std::string* last_event_id = req.headers.Find("Last-Event-ID")) {
    auto resumed = ParseStreamPosition(*last_event_id, partitions);
    if (!resumed) return Status::ArgumentInvalid("Last-Event-ID is not a position this stream gave out");
    return *resumed;
  }
  const std::string from = req.Query("from").value_or("latest");
  if (from == "latest") return ctx.events.NextSequenceNumbers();
  if (from == "earliest") return StreamPosition(partitions, 0);
  int64_t sequence = 0;
  auto [end, ec] = std::from_chars(from.data(), from.data() + from.size(), sequence);
  if (ec == std::errc() && end == from.data() + from.size() && sequence >= 0) {
    return StreamPosition(partitions, sequence);
  }
  auto time = ParseIso8601(from);
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

StreamingReply StreamEvents(const HttpContext& ctx, const HttpRequest& req) {
  const auto error = [](const Status& status) { return StreamingReply{ErrorResponse(status), nullptr}; };
  if (Status s = Authorize(ctx, req, "messages/events", kServiceConnect); !s.ok()) return error(s);
  std::optional<int> only_partition;
  if (auto text = req.Query("partition")) {
    int p = -1;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), p);
    if (ec != std::errc() || end != text->data() + text->size() || p < 0 || p >= ctx.events.partition_count()) {
      return error(Status::ArgumentInvalid("'partition' must be 0 to " +
                                           std::to_string(ctx.events.partition_count() - 1)));
    }
    only_partition = p;
  }
  auto start = StartPosition(ctx, req);
  if (!start.ok()) return error(start.status());
  std::optional<std::string> device = req.Query("deviceId");
  // A device's events are all in its partition: read only that one.
  std::vector<int> partitions;
  if (only_partition) {
    partitions.push_back(*only_partition);
  } else if (device) {
    partitions.push_back(ctx.events.PartitionOf(*device));
  }
  auto source = EventStreamSource::Open(ctx.events, ctx.timers, std::move(start).value(), std::move(partitions),
                                        std::move(device), ctx.max_streams);
  if (!source) {
    return error({ErrorCode::kServiceUnavailable,
                  "Too many open event streams (" + std::to_string(ctx.max_streams) +
                      "); close one or start the emulator with a higher --max-event-streams"});
  }
  StreamingReply reply;
  reply.response.content_type = "text/event-stream";
  reply.response.headers.Set("Cache-Control", "no-cache");
  reply.response.headers.Set("X-Accel-Buffering", "no");
  reply.chunks = std::move(source);
  return reply;
}

}  // namespace iothub::http
