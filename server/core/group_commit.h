// Group commit: registry writes that arrive while one is being committed wait and
// then run together, in one store transaction, so that they share one sync to disk.
// With the data on disk that sync is most of a write's time, so concurrent writers
// go about as many times faster as there are of them.
//
// No thread waits and none is owned: the first writer to find none running commits
// what is queued, then whatever queued meanwhile, until none is left; the others
// return at once and are answered from its thread.
#pragma once

#include <deque>
#include <functional>
#include <mutex>

#include "core/device_store.h"
#include "core/status.h"

namespace iothub {

class GroupCommit {
 public:
  // Runs inside the shared transaction, after the writes queued before it (so it sees
  // them), and returns what to do once that transaction has committed: answer its
  // caller, close connections. Each write is a savepoint of its own: one that throws
  // is undone alone.
  using Write = std::function<std::function<void()>()>;
  // Called instead when the write threw or the shared commit failed: none of it landed.
  using Failed = std::function<void(Status)>;

  explicit GroupCommit(DeviceStore& store) : store_(store) {}

  // Possibly runs `write`, and others queued with it, before returning. The callbacks
  // must not throw (one that does is ignored so that the others still run).
  void Run(Write write, Failed failed);

 private:
  struct Pending {
    Write write;
    Failed failed;
  };
  void CommitBatch(std::deque<Pending>& batch);

  DeviceStore& store_;
  std::mutex mu_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool committing_ = false;    // guarded by mu_: some thread is draining queue_
};

}  // namespace iothub
