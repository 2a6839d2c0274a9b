// The event stream's resume position as a reader sends it back (Last-Event-ID or
// ?from=): "0:12,1:5,2:0,3:7". Accepted text names every partition once and
// formats back to text that parses the same.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "http/event_stream.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using iothub::fuzz::Check;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (int partitions : {1, 4, 32}) {
    auto position = iothub::http::ParseStreamPosition(text, partitions);
    if (!position) continue;
    Check(position->size() == static_cast<size_t>(partitions), "a position covers every partition");
    for (int64_t s : *position) Check(s >= 0, "sequence numbers are not negative");
    auto again = iothub::http::ParseStreamPosition(iothub::http::FormatStreamPosition(*position), partitions);
    Check(again && *again == *position, "a formatted position parses back the same");
  }
  return 0;
}
