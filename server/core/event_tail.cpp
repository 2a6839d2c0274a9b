#include "core/event_tail.h"

#include <mutex>

namespace iothub {

EventTail::EventTail(const std::vector<int64_t>& next_sequence, Limits limits)
    : limits_(limits), partitions_(next_sequence.size()) {
  for (size_t p = 0; p < next_sequence.size(); ++p) partitions_[p].begin = next_sequence[p];
}

size_t EventTail::Footprint(const Event& e) {
  // The strings' contents plus a rough allowance for the objects that hold them.
  size_t bytes = sizeof(Event) + 64 + e.body.size();
  for (const auto* pairs : {&e.application_properties, &e.annotations}) {
    for (const auto& [k, v] : *pairs) bytes += 64 + k.size() + v.size();
  }
  return bytes;
}

void EventTail::Add(const std::vector<EventPtr>& events) {
  std::unique_lock lock(mu_);
  for (const EventPtr& e : events) {
    Partition& p = partitions_[e->partition];
    if (p.events.empty()) p.begin = e->sequence_number;
    p.events.push_back(e);
    p.bytes += Footprint(*e);
    while (p.events.size() > 1 && (p.events.size() > limits_.max_events || p.bytes > limits_.max_bytes)) {
      p.bytes -= Footprint(*p.events.front());
      p.events.pop_front();
      ++p.begin;
    }
  }
}

bool EventTail::Read(int partition, int64_t from, size_t max, std::vector<EventPtr>& out) const {
  std::shared_lock lock(mu_);
  const Partition& p = partitions_[partition];
  if (from < p.begin) return false;
  const auto first = static_cast<size_t>(from - p.begin);
  for (size_t i = first; i < p.events.size() && max > 0; ++i, --max) out.push_back(p.events[i]);
  return true;
}

}  // namespace iothub
