// Who reads which partition in which consumer group, with Event Hubs' rules:
// at most 5 readers per partition and group; a reader with an owner level (epoch)
// takes the partition from readers with a lower one or none, which are told they
// lost it; while it holds the partition, readers with a lower level or none are
// refused. Thread-safe; `evicted` callbacks run on the admitting thread, outside the lock.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/status.h"

namespace iothub {

class PartitionReaders {
 public:
  static constexpr size_t kMaxReaders = 5;

  enum class Refusal { kNone, kTooMany, kLowerOwnerLevel };

  // A reader's place; leaving it (destroying or Reset) frees it. Movable.
  class Place {
   public:
    Place() = default;
    Place(Place&& o) noexcept : readers_(std::exchange(o.readers_, nullptr)), id_(o.id_) {}
    Place& operator=(Place&& o) noexcept;
    ~Place() { Reset(); }
    void Reset();

   private:
    friend class PartitionReaders;
    Place(PartitionReaders* r, uint64_t id) : readers_(r), id_(id) {}
    PartitionReaders* readers_ = nullptr;
    uint64_t id_ = 0;
  };

  struct Admission {
    Refusal refusal = Refusal::kNone;
    std::string reason;  // when refused
    Place place;         // when admitted
  };

  // evicted: called once if a reader with a higher owner level takes the partition.
  Admission Admit(const std::string& group, int partition, std::optional<int64_t> owner_level,
                  std::function<void(const std::string& reason)> evicted);

 private:
  struct Reader {
    uint64_t id;
    std::optional<int64_t> owner_level;
    std::function<void(const std::string&)> evicted;
  };
  using Key = std::tuple<std::string, int>;
  void Leave(uint64_t id);

  std::mutex mu_;
  std::map<Key, std::vector<Reader>> readers_;  // guarded by mu_
  uint64_t next_id_ = 1;                        // guarded by mu_
};

}  // namespace iothub
