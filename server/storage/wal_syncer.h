// Group durability for writes committed without their own fsync (synchronous=NORMAL):
// callers register what to do once their commit survives a power cut, and one thread
// makes every such commit durable with one fdatasync of the WAL file, however many
// waited. WAL appends commits in order, so syncing the file covers every commit made
// before the sync began; the writers never wait for the disk and never hold the
// database's lock while it syncs.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace iothub::storage {

class WalSyncer {
 public:
  // Makes the file durable; false if it could not be (the callbacks hear it).
  using Sync = std::function<bool()>;
  // `sync`: how to make the commits durable (tests count and hold it).
  explicit WalSyncer(Sync sync);
  // Syncs what is still waiting, runs its callbacks, then stops the thread.
  ~WalSyncer();
  WalSyncer(const WalSyncer&) = delete;
  WalSyncer& operator=(const WalSyncer&) = delete;

  // fdatasync of `wal_path`, opened on first use and again if SQLite made a new file there.
  static Sync SyncFile(std::string wal_path);

  // `done(durable)` runs on the syncer's thread after a sync that began after this call,
  // so every commit made before the call is covered. It must not block for long (post work
  // elsewhere) and must not call Drain.
  void After(std::function<void(bool durable)> done);
  // Returns once every callback passed to After before this call has run.
  void Drain();

 private:
  void Loop();

  Sync sync_;
  std::mutex mu_;
  std::condition_variable wake_;      // work to do, or stopping
  std::condition_variable finished_;  // a round of callbacks ran
  std::vector<std::function<void(bool)>> waiting_;  // guarded by mu_
  uint64_t registered_ = 0;  // callbacks ever passed to After; guarded by mu_
  uint64_t completed_ = 0;   // callbacks that have run; guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  std::thread thread_;
};

}  // namespace iothub::storage
