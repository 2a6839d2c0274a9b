#include "core/event_log.h"

#include <algorithm>

namespace iothub {

EventLog::EventLog(EventStore& store, Options options) : store_(store), options_(options) {
  auto existing = store_.PartitionCount();
  if (!existing) store_.CreatePartitions(options_.partitions);
  partition_count_ = existing.value_or(options_.partitions);
  positions_ = store_.Positions();
  for (const auto& p : positions_) next_sequence_.push_back(p.next_sequence_number);
  tail_ = std::make_unique<EventTail>(next_sequence_, options_.tail);
  writer_ = std::thread([this] { WriterLoop(); });
  retention_ = std::thread([this] { RetentionLoop(); });
}

EventLog::~EventLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_writer_.notify_all();
  wake_retention_.notify_all();
  writer_.join();
  retention_.join();
}

int EventLog::PartitionOf(std::string_view device_id) const {
  uint32_t hash = 2166136261u;
  for (unsigned char c : device_id) {
    hash ^= c;
    hash *= 16777619u;
  }
  return static_cast<int>(hash % static_cast<uint32_t>(partition_count_));
}

void EventLog::Append(Event event, Done done) {
  {
    std::lock_guard lock(mu_);
    pending_.push_back({std::move(event), std::move(done)});
  }
  wake_writer_.notify_one();
}

void EventLog::WriterLoop() {
  std::vector<Pending> batch;
  std::vector<const Event*> events;
  std::vector<EventPtr> committed;
  while (true) {
    {
      std::unique_lock lock(mu_);
      wake_writer_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, and everything is committed
      // Whatever arrived while the last commit ran goes into this one.
      size_t n = std::min(pending_.size(), options_.max_batch);
      batch.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.begin() + n));
      pending_.erase(pending_.begin(), pending_.begin() + n);
    }

    const std::vector<PartitionPosition> before = positions_;
    const TimePoint now = Clock::now();
    events.clear();
    for (Pending& p : batch) {
      Event& e = p.event;
      const std::string* device = e.Annotation("iothub-connection-device-id");
      e.partition = PartitionOf(device ? *device : std::string_view());
      PartitionPosition& pos = positions_[e.partition];
      e.sequence_number = pos.next_sequence_number++;
      e.offset = pos.next_offset;
      pos.next_offset += static_cast<int64_t>(e.body.size()) + 1;
      e.enqueued_time = now;
      events.push_back(&e);
    }

    Status status;
    try {
      store_.Append(events, positions_);
    } catch (const std::exception& ex) {
      positions_ = before;  // nothing of this batch exists
      status = Status::ServerError(std::string("The event log could not store the message: ") + ex.what());
    }
    if (status.ok()) {
      // Live readers get the events from memory; the ones waiting hear of it next.
      committed.clear();
      for (Pending& p : batch) {
        p.event.renderings = std::make_shared<EventRenderings>();
        committed.push_back(std::make_shared<const Event>(std::move(p.event)));
      }
      tail_->Add(committed);
      std::lock_guard lock(committed_mu_);
      ++commits_;
      for (size_t p = 0; p < positions_.size(); ++p) next_sequence_[p] = positions_[p].next_sequence_number;
    }
    // Acknowledgements first: they are on the devices' critical path, and waking the
    // readers first would have them compete for the CPU with the PUBACKs.
    for (Pending& p : batch) {
      if (p.done) p.done(status);
    }
    committed_cv_.notify_all();
    if (status.ok()) NotifySubscribers();
    batch.clear();
  }
}

std::vector<EventPtr> EventLog::ReadPartition(int partition, int64_t from, size_t max) {
  std::vector<EventPtr> out;
  if (tail_->Read(partition, from, max, out)) return out;
  // Older than memory holds: from the store, up to where memory takes over.
  for (Event& e : store_.ReadPartition(partition, from, max)) out.push_back(std::make_shared<const Event>(std::move(e)));
  return out;
}

uint64_t EventLog::commit_count() const {
  std::lock_guard lock(committed_mu_);
  return commits_;
}

uint64_t EventLog::WaitForCommit(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(committed_mu_);
  committed_cv_.wait_for(lock, timeout, [&] { return commits_ != seen; });
  return commits_;
}

EventLog::Subscription EventLog::OnCommit(std::function<void()> fn) {
  std::lock_guard lock(subscribers_mu_);
  const uint64_t id = next_subscriber_++;
  subscribers_.emplace_back(id, std::move(fn));
  has_subscribers_ = true;
  return Subscription(this, id);
}

void EventLog::Unsubscribe(uint64_t id) {
  std::function<void()> gone;  // destroyed outside the lock: what it holds may be anything
  std::lock_guard lock(subscribers_mu_);
  auto it = std::find_if(subscribers_.begin(), subscribers_.end(), [id](const auto& s) { return s.first == id; });
  if (it == subscribers_.end()) return;
  gone = std::move(it->second);
  subscribers_.erase(it);
  has_subscribers_ = !subscribers_.empty();
}

void EventLog::NotifySubscribers() {
  // Without subscribers a commit costs one atomic load. Missing a subscriber that is
  // arriving is harmless: this commit's events were in the tail before the load, so
  // what it reads after OnCommit returns includes them (the tail's lock orders the two).
  if (!has_subscribers_) return;
  // The callbacks run under the lock, so that Unsubscribe returns only once its
  // callback is not running; they are cheap by contract.
  std::lock_guard lock(subscribers_mu_);
  for (auto& [id, fn] : subscribers_) fn();
}

void EventLog::Subscription::Reset() {
  if (log_) std::exchange(log_, nullptr)->Unsubscribe(id_);
}

EventLog::Subscription& EventLog::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Reset();
    log_ = std::exchange(other.log_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

std::vector<int64_t> EventLog::NextSequenceNumbers() const {
  std::lock_guard lock(committed_mu_);
  return next_sequence_;
}

int64_t EventLog::EnforceRetention() { return store_.DeleteEnqueuedBefore(Clock::now() - options_.retention); }

void EventLog::RetentionLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    try {
      EnforceRetention();
    } catch (const std::exception&) {
      // A busy or failing disk: try again next round.
    }
    lock.lock();
    wake_retention_.wait_for(lock, std::chrono::seconds(30), [this] { return stopping_; });
  }
}

}  // namespace iothub
