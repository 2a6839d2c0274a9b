// Where the consumer groups created through the emulator's API are kept, so that
// they outlive a restart. $Default and the configured groups are never stored.
// Implementations are thread-safe; each call is atomic on its own. Names match
// case-insensitively (they are ASCII, see ValidateConsumerGroupName). Storage
// failures throw (they are bugs or a broken disk, not user errors).
#pragma once

#include <string>
#include <vector>

namespace iothub {

class ConsumerGroupStore {
 public:
  virtual ~ConsumerGroupStore() = default;

  // The stored names as spelt when created, in creation order.
  virtual std::vector<std::string> List() = 0;
  // False, storing nothing, when a group of that name is already stored.
  virtual bool Insert(const std::string& name) = 0;
  // False when no group of that name was stored.
  virtual bool Erase(const std::string& name) = 0;
};

}  // namespace iothub
