#include "storage/wal_syncer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <memory>

namespace iothub::storage {
namespace {

// The WAL file, kept open between syncs.
class WalFile {
 public:
  explicit WalFile(std::string path) : path_(std::move(path)) {}
  ~WalFile() {
    if (fd_ >= 0) ::close(fd_);
  }

  bool Sync() {
    // SQLite keeps the file while a connection is open; should it make a new one, sync that.
    struct stat now {};
    if (::stat(path_.c_str(), &now) != 0) {
      spdlog::error("Cannot sync the database's write-ahead log {}: it does not exist", path_);
      return false;
    }
    if (fd_ >= 0 && now.st_ino != inode_) {
      ::close(fd_);
      fd_ = -1;
    }
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) {
        spdlog::error("Cannot open the database's write-ahead log {} to sync it", path_);
        return false;
      }
      inode_ = now.st_ino;
    }
    if (::fdatasync(fd_) != 0) {
      spdlog::error("Syncing the database's write-ahead log {} failed", path_);
      return false;
    }
    return true;
  }

 private:
  const std::string path_;
  int fd_ = -1;
  ino_t inode_ = 0;
};

}  // namespace

WalSyncer::Sync WalSyncer::SyncFile(std::string wal_path) {
  auto file = std::make_shared<WalFile>(std::move(wal_path));
  return [file] { return file->Sync(); };
}

WalSyncer::WalSyncer(Sync sync) : sync_(std::move(sync)), thread_([this] { Loop(); }) {}

WalSyncer::~WalSyncer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void WalSyncer::After(std::function<void(bool durable)> done) {
  {
    std::lock_guard lock(mu_);
    waiting_.push_back(std::move(done));
    ++registered_;
  }
  wake_.notify_one();
}

void WalSyncer::Drain() {
  std::unique_lock lock(mu_);
  const uint64_t target = registered_;
  finished_.wait(lock, [&] { return completed_ >= target; });
}

void WalSyncer::Loop() {
  std::vector<std::function<void(bool)>> round;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !waiting_.empty(); });
      if (waiting_.empty()) return;  // stopping, nothing left
      round.swap(waiting_);
    }
    // Everything in `round` was committed before it was registered, so before this sync.
    const bool durable = sync_();
    for (auto& done : round) {
      try {
        done(durable);
      } catch (...) {
        // One caller's failure must not keep the others from hearing.
      }
    }
    const size_t ran = round.size();
    round.clear();  // what the callbacks held goes before Drain returns
    {
      std::lock_guard lock(mu_);
      completed_ += ran;
    }
    finished_.notify_all();
  }
}

}  // namespace iothub::storage
