// The consumer groups of the hub's Event Hub-compatible endpoint (spec §6): $Default,
// which always exists, the groups the configuration declares (--consumer-group), and
// the groups created through the emulator's API, which the store keeps.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/consumer_group_store.h"
#include "core/status.h"

namespace iothub {

inline constexpr std::string_view kDefaultConsumerGroup = "$Default";

// Where a group comes from, which decides whether it can be deleted.
enum class ConsumerGroupSource { kBuiltin, kConfig, kApi };

// "builtin", "config" or "api", as the REST API and the CLI show it.
const char* ConsumerGroupSourceName(ConsumerGroupSource source);

struct ConsumerGroup {
  std::string name;  // as spelt where it was declared or created
  ConsumerGroupSource source = ConsumerGroupSource::kApi;
};

// OK when `name` is one Event Hubs accepts for a consumer group: 1 to 50 letters, digits,
// '.', '_' or '-', starting and ending with a letter or digit; "$Default" (any case) is
// the only name with a '$'. Otherwise ArgumentInvalid saying what is wrong.
Status ValidateConsumerGroupName(std::string_view name);

// True when a and b are the same group name (ASCII case-insensitive, as Event Hubs).
bool SameConsumerGroupName(std::string_view a, std::string_view b);

// Thread-safe: Exists is called from AMQP connection strands while the REST
// handlers create and delete. Every name lookup is case-insensitive.
class ConsumerGroups {
 public:
  // Loads the stored groups. `configured`: the configuration's names, each already
  // valid (LoadConfig refuses others); an invalid one throws std::invalid_argument.
  // A name given twice, or both configured and stored, is one group (source kConfig).
  // `store` must outlive this object.
  ConsumerGroups(ConsumerGroupStore& store, const std::vector<std::string>& configured);

  bool Exists(std::string_view name) const;
  // $Default, then the configured groups in the order given, then the created ones in creation order.
  std::vector<ConsumerGroup> List() const;
  // Creates and stores a group (source kApi). ArgumentInvalid for a bad name;
  // DeviceAlreadyExists (409) when a group of that name exists, whatever its source.
  Result<ConsumerGroup> Create(const std::string& name);
  // Deletes a created group, from the store too. ResourceNotFound (404) when there is
  // none of that name; ArgumentInvalid (400) for $Default and configured groups.
  Status Delete(std::string_view name);
  // Told the name of each deleted group, after it is gone (its readers lose their links). Set up before serving.
  void OnDeleted(std::function<void(const std::string&)> callback) { on_deleted_.push_back(std::move(callback)); }

 private:
  const ConsumerGroup* Find(std::string_view name) const;  // requires mu_
  Status DeleteLocked(std::string_view name, std::string& deleted);  // requires mu_

  ConsumerGroupStore& store_;
  mutable std::mutex mu_;
  std::vector<ConsumerGroup> groups_;  // guarded by mu_; mirrors the store for the kApi ones
  std::vector<std::function<void(const std::string&)>> on_deleted_;
};

}  // namespace iothub
