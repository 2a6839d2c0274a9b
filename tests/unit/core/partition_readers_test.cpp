#include "core/partition_readers.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace iothub {
namespace {

using Refusal = PartitionReaders::Refusal;

// A reader's evictions, as its callback hears them.
struct Evictions {
  std::vector<std::string> reasons;
  std::vector<PartitionReaders::Eviction> kinds;
  PartitionReaders::Evicted callback() {
    return [this](PartitionReaders::Eviction kind, const std::string& why) {
      kinds.push_back(kind);
      reasons.push_back(why);
    };
  }
};

PartitionReaders::Admission Admit(PartitionReaders& r, const std::string& group, int partition,
                                  std::optional<int64_t> level = std::nullopt, Evictions* evictions = nullptr) {
  return r.Admit(group, partition, level,
                 evictions ? evictions->callback()
                           : PartitionReaders::Evicted([](PartitionReaders::Eviction, const std::string&) {
                               FAIL("not evicted");
                             }));
}

}  // namespace

TEST_CASE("PartitionReaders: five readers per partition and group, a sixth is refused until one leaves") {
  PartitionReaders readers;
  std::vector<PartitionReaders::Place> places;
  for (int i = 0; i < 5; ++i) {
    auto a = Admit(readers, "$Default", 0);
    REQUIRE(a.refusal == Refusal::kNone);
    places.push_back(std::move(a.place));
  }
  auto sixth = Admit(readers, "$Default", 0);
  CHECK(sixth.refusal == Refusal::kTooMany);
  CHECK(sixth.reason.find("At most 5 readers") != std::string::npos);
  CHECK(sixth.reason.find("partition 0 of consumer group '$Default'") != std::string::npos);

  places[2].Reset();
  auto again = Admit(readers, "$Default", 0);
  CHECK(again.refusal == Refusal::kNone);
  CHECK(Admit(readers, "$Default", 0).refusal == Refusal::kTooMany);

  // Destroying a place frees it too; a moved-from place frees nothing.
  PartitionReaders::Place moved = std::move(places[0]);
  places[0].Reset();
  CHECK(Admit(readers, "$Default", 0).refusal == Refusal::kTooMany);
  { PartitionReaders::Place gone = std::move(moved); }
  CHECK(Admit(readers, "$Default", 0).refusal == Refusal::kNone);
}

TEST_CASE("PartitionReaders: groups and partitions are counted apart") {
  PartitionReaders readers;
  std::vector<PartitionReaders::Place> places;
  for (int i = 0; i < 5; ++i) places.push_back(Admit(readers, "$Default", 0).place);
  CHECK(Admit(readers, "$Default", 0).refusal == Refusal::kTooMany);
  for (int i = 0; i < 5; ++i) {
    auto other_partition = Admit(readers, "$Default", 1);
    REQUIRE(other_partition.refusal == Refusal::kNone);
    places.push_back(std::move(other_partition.place));
    auto other_group = Admit(readers, "second", 0);
    REQUIRE(other_group.refusal == Refusal::kNone);
    places.push_back(std::move(other_group.place));
  }
  // An owner level in one group or partition takes nothing from another.
  Evictions none;
  auto owner = Admit(readers, "third", 0, 5, &none);
  CHECK(owner.refusal == Refusal::kNone);
  CHECK(Admit(readers, "third", 1).refusal == Refusal::kNone);
}

TEST_CASE("PartitionReaders: an owner level takes the partition from readers with none or a lower one") {
  PartitionReaders readers;
  Evictions plain, low;
  auto a = Admit(readers, "$Default", 2, std::nullopt, &plain);
  REQUIRE(a.refusal == Refusal::kNone);
  auto b = Admit(readers, "$Default", 2, 1, &low);
  REQUIRE(b.refusal == Refusal::kNone);
  // Owner level 1 took it from the reader without one.
  REQUIRE(plain.reasons.size() == 1);
  CHECK(plain.reasons[0].find("owner level 1 took partition 2 of consumer group '$Default'") != std::string::npos);
  plain.reasons.clear();
  a = Admit(readers, "$Default", 2, std::nullopt, &plain);
  CHECK(a.refusal == Refusal::kLowerOwnerLevel);

  Evictions high;
  auto c = Admit(readers, "$Default", 2, 7, &high);
  REQUIRE(c.refusal == Refusal::kNone);
  REQUIRE(low.reasons.size() == 1);
  CHECK(low.reasons[0].find("owner level 7 took partition 2 of consumer group '$Default'") != std::string::npos);
  CHECK(plain.reasons.empty());
  CHECK(high.reasons.empty());

  // The evicted readers' places are free: four more fit beside the owner.
  std::vector<PartitionReaders::Place> more;
  for (int i = 0; i < 4; ++i) {
    Evictions e;
    auto m = Admit(readers, "$Default", 2, 7, &e);
    REQUIRE(m.refusal == Refusal::kNone);
    more.push_back(std::move(m.place));
  }
  // Leaving the place the evicted reader held later changes nothing, and calls nobody again.
  b.place.Reset();
  CHECK(low.reasons.size() == 1);
  Evictions sixth;
  CHECK(Admit(readers, "$Default", 2, 7, &sixth).refusal == Refusal::kTooMany);
}

TEST_CASE("PartitionReaders: while a higher owner level holds, lower ones and none are refused, equal ones coexist") {
  PartitionReaders readers;
  Evictions holder_evictions;
  auto holder = Admit(readers, "$Default", 3, 10, &holder_evictions);
  REQUIRE(holder.refusal == Refusal::kNone);

  auto none = Admit(readers, "$Default", 3);
  CHECK(none.refusal == Refusal::kLowerOwnerLevel);
  CHECK(none.reason.find("owner level 10 holds partition 3") != std::string::npos);
  auto lower = Admit(readers, "$Default", 3, 9);
  CHECK(lower.refusal == Refusal::kLowerOwnerLevel);

  Evictions equal_evictions;
  auto equal = Admit(readers, "$Default", 3, 10, &equal_evictions);
  CHECK(equal.refusal == Refusal::kNone);
  CHECK(holder_evictions.reasons.empty());
  CHECK(equal_evictions.reasons.empty());

  // Once the holders leave, anyone may read again.
  holder.place.Reset();
  equal.place.Reset();
  CHECK(Admit(readers, "$Default", 3).refusal == Refusal::kNone);
}

TEST_CASE("PartitionReaders: a higher owner level takes over from a lower one, which is told once") {
  PartitionReaders readers;
  Evictions first, second;
  auto a = Admit(readers, "$Default", 0, 1, &first);
  auto b = Admit(readers, "$Default", 0, 2, &second);
  REQUIRE(b.refusal == Refusal::kNone);
  CHECK(first.reasons.size() == 1);
  Evictions third;
  auto c = Admit(readers, "$Default", 0, 3, &third);
  REQUIRE(c.refusal == Refusal::kNone);
  CHECK(first.reasons.size() == 1);
  CHECK(second.reasons.size() == 1);
  CHECK(Admit(readers, "$Default", 0, 2).refusal == Refusal::kLowerOwnerLevel);
}

TEST_CASE("PartitionReaders: group names are case-insensitive, and a deleted group's readers all lose their places") {
  PartitionReaders readers;
  Evictions a_evictions, b_evictions;
  std::vector<PartitionReaders::Place> places;
  for (int i = 0; i < 4; ++i) places.push_back(Admit(readers, "ops", 0).place);
  auto a = Admit(readers, "OPS", 0, std::nullopt, &a_evictions);
  REQUIRE(a.refusal == Refusal::kNone);
  CHECK(Admit(readers, "Ops", 0).refusal == Refusal::kTooMany);  // one group, whatever the spelling
  auto b = Admit(readers, "ops", 1, std::nullopt, &b_evictions);
  Evictions other;
  auto kept = Admit(readers, "$Default", 0, std::nullopt, &other);

  // The evicted-callback of the other four fails the test if called: give them their own.
  places.clear();
  readers.EvictGroup("Ops");
  REQUIRE(a_evictions.kinds.size() == 1);
  CHECK(a_evictions.kinds[0] == PartitionReaders::Eviction::kGroupDeleted);
  CHECK(a_evictions.reasons[0].find("deleted") != std::string::npos);
  CHECK(b_evictions.kinds.size() == 1);
  CHECK(other.kinds.empty());
  // The group's places are free again (should it be created anew).
  CHECK(Admit(readers, "ops", 0).refusal == Refusal::kNone);
}

}  // namespace iothub
