// Who reads which partition in which consumer group, with Event Hubs' rules:
// at most 5 readers per partition and group; a reader with an owner level (epoch)
// takes the partition from readers with a lower one or none, which are told they
// lost it; while it holds the partition, readers with a lower level or none are
// refused. Group names are case-insensitive, as Event Hubs'. Thread-safe; `evicted`
// callbacks run on the admitting (or evicting) thread, outside the lock.
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

  // Why a reader lost its partition: another took it, or its consumer group went.
  enum class Eviction { kTakenOver, kGroupDeleted };
  using Evicted = std::function<void(Eviction why, const std::string& reason)>;

  // evicted: called at most once, when the reader loses its place.
  Admission Admit(const std::string& group, int partition, std::optional<int64_t> owner_level, Evicted evicted);
  // Every reader of the group loses its place (the group was deleted).
  void EvictGroup(const std::string& group);

 private:
  struct Reader {
    uint64_t id;
    std::optional<int64_t> owner_level;
    Evicted evicted;
  };
  using Key = std::tuple<std::string, int>;
  void Leave(uint64_t id);

  std::mutex mu_;
  std::map<Key, std::vector<Reader>> readers_;  // guarded by mu_
  uint64_t next_id_ = 1;                        // guarded by mu_
};

}  // namespace iothub
