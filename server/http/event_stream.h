// Where an event stream reader is in the log: the next sequence number to read
// in each partition. It is the SSE event id, so a reader that reconnects with
// Last-Event-ID resumes exactly after the last event it saw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iothub::http {

using StreamPosition = std::vector<int64_t>;  // index = partition

// "0:12,1:5,2:0,3:7"
std::string FormatStreamPosition(const StreamPosition& position);
// The same, appended to `out` (it is written for every event a stream sends).
void AppendStreamPosition(std::string& out, const StreamPosition& position);
// nullopt unless it names every one of `partitions` partitions exactly once.
std::optional<StreamPosition> ParseStreamPosition(std::string_view text, int partitions);

}  // namespace iothub::http
