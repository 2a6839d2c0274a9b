// The durable, partitioned log of device-to-cloud messages. Appends from any
// thread are grouped and committed together by one writer thread (group commit),
// and each caller hears back only once its event is durably stored: that is
// when a device gets its PUBACK. A second thread enforces retention.
// Each commit is also handed to an in-memory tail (EventTail), from which live
// readers are served; readers further behind read the store on connections of
// their own. Either way a reader never waits for the writer's lock.
// Readers that follow the log live either wait for a commit (WaitForCommit) or
// are told of each one (OnCommit).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/event_store.h"
#include "core/event_tail.h"
#include "core/status.h"

namespace iothub {

class EventLog {
 public:
  // Called once per append, on the writer thread, after commit (OK) or failure.
  using Done = std::function<void(const Status&)>;

  struct Options {
    int partitions = 4;
    std::chrono::seconds retention = std::chrono::hours(24);
    size_t max_batch = 4096;  // events per transaction
    EventTail::Limits tail;   // what live readers are served from memory
  };

  // Uses the partition count the store was created with, if any (a changed
  // option is reported by partition_count() differing from options.partitions).
  EventLog(EventStore& store, Options options);
  ~EventLog();  // stops the threads after committing what was appended

  // Assigns partition, sequence number, offset and enqueued time, and stores it.
  void Append(Event event, Done done);
  std::vector<Event> Read(const EventQuery& query) { return store_.Read(query); }
  // At most `max` committed events of `partition` from sequence number `from` on, in
  // order: from memory when recent, else from the store. Thread-safe; never blocks the writer.
  std::vector<EventPtr> ReadPartition(int partition, int64_t from, size_t max);
  // The first sequence number of `partition` at or after a byte offset or enqueued time; nullopt if none.
  std::optional<int64_t> FirstSequenceAtOrAfter(int partition, EventStore::Key key, int64_t value) {
    return store_.FirstSequenceAtOrAfter(partition, key, value);
  }

  int partition_count() const { return partition_count_; }
  // A stable hash of the device id (FNV-1a), so a device's events stay in order in one partition.
  int PartitionOf(std::string_view device_id) const;
  // Runs retention now; returns how many events it removed.
  int64_t EnforceRetention();

  // For readers that follow the log live: a counter of commits, and a wait for
  // the next one. Returns the counter (unchanged when the wait timed out).
  uint64_t commit_count() const;
  uint64_t WaitForCommit(uint64_t seen, std::chrono::milliseconds timeout) const;
  // The sequence number each partition will give its next event.
  std::vector<int64_t> NextSequenceNumbers() const;

  // An OnCommit callback's registration: destroying (or resetting) it unsubscribes,
  // and once that returns the callback is not running and never runs again. Movable.
  // The log must outlive it. Must not be destroyed from inside an OnCommit callback
  // (that would wait for itself), nor while holding a lock such a callback takes.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept : log_(std::exchange(other.log_, nullptr)), id_(other.id_) {}
    Subscription& operator=(Subscription&& other) noexcept;
    ~Subscription() { Reset(); }
    void Reset();
    explicit operator bool() const { return log_ != nullptr; }

   private:
    friend class EventLog;
    Subscription(EventLog* log, uint64_t id) : log_(log), id_(id) {}
    EventLog* log_ = nullptr;
    uint64_t id_ = 0;
  };

  // Calls `fn` after each commit, once its events are visible to readers (ReadPartition
  // returns them), starting with the first commit after OnCommit returns: a reader that
  // subscribes first and reads next misses none. One call per commit, not per event.
  // `fn` runs on the writer thread, under the log's subscriber lock, after the devices'
  // acknowledgements: it must be cheap and must not block (note the commit, post work
  // elsewhere, return), and must not subscribe or unsubscribe. Thread-safe.
  [[nodiscard]] Subscription OnCommit(std::function<void()> fn);

 private:
  struct Pending {
    Event event;
    Done done;
  };
  void WriterLoop();
  void RetentionLoop();

  EventStore& store_;
  const Options options_;
  int partition_count_ = 0;
  std::vector<PartitionPosition> positions_;  // writer thread only
  std::unique_ptr<EventTail> tail_;

  std::mutex mu_;
  std::condition_variable wake_writer_;
  std::condition_variable wake_retention_;
  std::deque<Pending> pending_;  // guarded by mu_
  bool stopping_ = false;        // guarded by mu_
  std::thread writer_;
  std::thread retention_;

  mutable std::mutex committed_mu_;
  mutable std::condition_variable committed_cv_;
  uint64_t commits_ = 0;                   // guarded by committed_mu_
  std::vector<int64_t> next_sequence_;     // guarded by committed_mu_

  void Unsubscribe(uint64_t id);
  void NotifySubscribers();
  // Held while the callbacks run, so that unsubscribing waits for a running one.
  std::mutex subscribers_mu_;
  std::vector<std::pair<uint64_t, std::function<void()>>> subscribers_;  // guarded by subscribers_mu_
  uint64_t next_subscriber_ = 1;                                          // guarded by subscribers_mu_
  std::atomic<bool> has_subscribers_{false};  // written under subscribers_mu_; read without it
};

}  // namespace iothub
