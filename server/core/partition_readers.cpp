#include "core/partition_readers.h"

#include <algorithm>
#include <cctype>

namespace iothub {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

PartitionReaders::Place& PartitionReaders::Place::operator=(Place&& o) noexcept {
  if (this != &o) {
    Reset();
    readers_ = std::exchange(o.readers_, nullptr);
    id_ = o.id_;
  }
  return *this;
}

void PartitionReaders::Place::Reset() {
  if (auto* r = std::exchange(readers_, nullptr)) r->Leave(id_);
}

PartitionReaders::Admission PartitionReaders::Admit(const std::string& group, int partition,
                                                    std::optional<int64_t> owner_level, Evicted evicted) {
  std::vector<Evicted> to_evict;
  Admission a;
  std::string reason;
  {
    std::lock_guard lock(mu_);
    auto& readers = readers_[{Lower(group), partition}];
    std::optional<int64_t> highest;
    for (const Reader& r : readers) {
      if (r.owner_level && (!highest || *r.owner_level > *highest)) highest = r.owner_level;
    }
    const std::string where = "partition " + std::to_string(partition) + " of consumer group '" + group + "'";
    if (highest && (!owner_level || *owner_level < *highest)) {
      a.refusal = Refusal::kLowerOwnerLevel;
      a.reason = "A reader with owner level " + std::to_string(*highest) + " holds " + where;
      return a;
    }
    if (owner_level) {
      // It takes the partition from every reader with a lower level or none (an equal one stays).
      reason = "A reader with owner level " + std::to_string(*owner_level) + " took " + where;
      auto lower = [&](const Reader& r) { return !r.owner_level || *r.owner_level < *owner_level; };
      for (Reader& r : readers) {
        if (lower(r)) to_evict.push_back(std::move(r.evicted));
      }
      readers.erase(std::remove_if(readers.begin(), readers.end(), lower), readers.end());
    }
    if (readers.size() >= kMaxReaders) {
      a.refusal = Refusal::kTooMany;
      a.reason = "At most " + std::to_string(kMaxReaders) + " readers may read " + where + " at once";
      return a;
    }
    const uint64_t id = next_id_++;
    readers.push_back({id, owner_level, std::move(evicted)});
    a.place = Place(this, id);
  }
  for (auto& f : to_evict) f(Eviction::kTakenOver, reason);
  return a;
}

void PartitionReaders::EvictGroup(const std::string& group) {
  std::vector<Evicted> to_evict;
  {
    std::lock_guard lock(mu_);
    const std::string key = Lower(group);
    for (auto it = readers_.begin(); it != readers_.end();) {
      if (std::get<0>(it->first) != key) {
        ++it;
        continue;
      }
      for (Reader& r : it->second) to_evict.push_back(std::move(r.evicted));
      it = readers_.erase(it);
    }
  }
  for (auto& f : to_evict) f(Eviction::kGroupDeleted, "The consumer group '" + group + "' was deleted");
}

void PartitionReaders::Leave(uint64_t id) {
  std::lock_guard lock(mu_);
  for (auto it = readers_.begin(); it != readers_.end(); ++it) {
    auto& v = it->second;
    auto r = std::find_if(v.begin(), v.end(), [&](const Reader& x) { return x.id == id; });
    if (r == v.end()) continue;
    v.erase(r);
    if (v.empty()) readers_.erase(it);
    return;
  }
}

}  // namespace iothub
