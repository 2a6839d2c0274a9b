#include "http/event_stream.h"

#include <charconv>

namespace iothub::http {

void AppendStreamPosition(std::string& out, const StreamPosition& position) {
  char buf[24];
  for (size_t p = 0; p < position.size(); ++p) {
    if (p) out += ',';
    out.append(buf, std::to_chars(buf, buf + sizeof buf, p).ptr);
    out += ':';
    out.append(buf, std::to_chars(buf, buf + sizeof buf, position[p]).ptr);
  }
}

std::string FormatStreamPosition(const StreamPosition& position) {
  std::string out;
  AppendStreamPosition(out, position);
  return out;
}

std::optional<StreamPosition> ParseStreamPosition(std::string_view text, int partitions) {
  StreamPosition position(partitions, -1);
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    int partition = -1;
    int64_t sequence = -1;
    auto [p_end, p_ec] = std::from_chars(item.data(), item.data() + colon, partition);
    auto [s_end, s_ec] = std::from_chars(item.data() + colon + 1, item.data() + item.size(), sequence);
    if (p_ec != std::errc() || s_ec != std::errc() || p_end != item.data() + colon ||
        s_end != item.data() + item.size() || partition < 0 || partition >= partitions || sequence < 0 ||
        position[partition] != -1) {
      return std::nullopt;
    }
    position[partition] = sequence;
  }
  for (int64_t s : position) {
    if (s < 0) return std::nullopt;
  }
  return position;
}

}  // namespace iothub::http
