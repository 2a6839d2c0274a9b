#include "core/event_reader.h"

#include <numeric>
#include <thread>

namespace iothub {

int64_t ResolvePosition(EventLog& log, int partition, const EventPosition& position) {
  const int64_t next = log.NextSequenceNumbers()[partition];
  switch (position.kind) {
    case EventPosition::Kind::kEarliest:
      return 0;  // reads start at the oldest event retention kept
    case EventPosition::Kind::kLatest:
      return next;
    case EventPosition::Kind::kSequenceNumber:
      return position.inclusive ? position.value : position.value + 1;
    case EventPosition::Kind::kOffset: {
      // Offsets are whole numbers: "after offset n" is "at or after n + 1".
      auto first = log.FirstSequenceAtOrAfter(partition, EventStore::Key::kOffset,
                                              position.inclusive ? position.value : position.value + 1);
      return first.value_or(next);
    }
    case EventPosition::Kind::kEnqueuedTime: {
      const int64_t micros =
          std::chrono::duration_cast<std::chrono::microseconds>(position.time.time_since_epoch()).count();
      auto first = log.FirstSequenceAtOrAfter(partition, EventStore::Key::kEnqueuedTime,
                                              position.inclusive ? micros : micros + 1);
      return first.value_or(next);
    }
  }
  return next;
}

EventReader::EventReader(EventLog& log, std::vector<int64_t> next, std::vector<int> partitions)
    : log_(log), next_(std::move(next)), partitions_(std::move(partitions)) {
  if (partitions_.empty()) {
    partitions_.resize(next_.size());
    std::iota(partitions_.begin(), partitions_.end(), 0);
  }
}

std::vector<EventPtr> EventReader::Collect(size_t max) {
  std::vector<EventPtr> out;
  for (size_t i = 0; i < partitions_.size() && out.size() < max; ++i) {
    const int p = partitions_[(start_ + i) % partitions_.size()];
    auto events = log_.ReadPartition(p, next_[p], max - out.size());
    if (!events.empty()) next_[p] = events.back()->sequence_number + 1;
    out.insert(out.end(), std::make_move_iterator(events.begin()), std::make_move_iterator(events.end()));
  }
  start_ = (start_ + 1) % partitions_.size();
  return out;
}

std::optional<std::chrono::steady_clock::time_point> EventReader::paced_until() const {
  // A batch went out moments ago: the next one gathers what commits until it is due.
  // After a quiet spell it is long due, and the first event goes out at once; a
  // reader catching up (full batches) is not held back.
  if (pacing_.count() <= 0 || last_batch_full_) return std::nullopt;
  const auto due = last_batch_ + pacing_;
  if (std::chrono::steady_clock::now() >= due) return std::nullopt;
  return due;
}

std::vector<EventPtr> EventReader::Take(size_t max) {
  auto events = Collect(max);
  if (!events.empty()) last_batch_ = std::chrono::steady_clock::now();
  last_batch_full_ = events.size() >= max;
  return events;
}

std::vector<EventPtr> EventReader::TryRead(size_t max) {
  if (paced_until()) return {};
  return Take(max);
}

std::vector<EventPtr> EventReader::Read(size_t max, std::chrono::milliseconds wait) {
  if (auto due = paced_until()) std::this_thread::sleep_until(*due);
  // The commit count is taken before reading: a commit after it wakes the wait at once.
  const uint64_t seen = log_.commit_count();
  auto events = Take(max);
  if (events.empty() && wait.count() > 0 && log_.WaitForCommit(seen, wait) != seen) events = Take(max);
  return events;
}

}  // namespace iothub
