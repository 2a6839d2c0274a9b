// Hub-level shared access policies and their IoT Hub permissions (spec §1.4).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iothub {

enum Permission : uint32_t {
  kRegistryRead = 1u << 0,
  kRegistryWrite = 1u << 1,
  kServiceConnect = 1u << 2,
  kDeviceConnect = 1u << 3,
};
using Permissions = uint32_t;

// "RegistryRead, ServiceConnect" for messages.
std::string DescribePermissions(Permissions permissions);

struct AccessPolicy {
  std::string name;
  std::string primary_key;    // base64
  std::string secondary_key;  // base64
  Permissions permissions = 0;
};

// The five policies every IoT Hub starts with, with the emulator's fixed,
// documented development keys (like Azurite's well-known account key).
class AccessPolicies {
 public:
  static AccessPolicies Defaults();

  const AccessPolicy* Find(std::string_view name) const;
  // Replaces a policy's primary key; false if there is no such policy.
  bool SetPrimaryKey(std::string_view name, std::string key);
  const std::vector<AccessPolicy>& all() const { return policies_; }

 private:
  std::vector<AccessPolicy> policies_;
};

}  // namespace iothub
