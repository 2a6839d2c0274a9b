// What a device has asked to be sent: cloud-to-device messages, method calls,
// twin responses, desired-property changes. Kept per client (device, or
// device/module) across connections when the device asks for a lasting session.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace iothub {

enum class Feed { kCloudToDevice, kMethods, kTwinResponses, kDesiredProperties };

const char* ToString(Feed feed);  // "c2d", "methods", ...
std::optional<Feed> ParseFeed(std::string_view text);

using Subscriptions = std::map<Feed, uint8_t>;  // feed -> granted QoS

// Storage of lasting subscriptions. Thread-safe; failures throw.
class SubscriptionStore {
 public:
  virtual ~SubscriptionStore() = default;
  virtual Subscriptions Load(const std::string& client_id) = 0;
  // Replaces what is stored for the client (an empty set removes it).
  virtual void Save(const std::string& client_id, const Subscriptions& subscriptions) = 0;
};

}  // namespace iothub
