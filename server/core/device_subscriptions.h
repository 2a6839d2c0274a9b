// What a device has asked to be sent: cloud-to-device messages, method calls,
// twin responses, desired-property changes. Kept per client (device, or
// device/module) across connections when the device asks for a lasting session.
// Protocol-neutral: how a protocol delivers a feed (MQTT's QoS) is its adapter's business.
#pragma once

#include <cstdint>
#include <set>
#include <optional>
#include <string>
#include <string_view>

namespace iothub {

enum class Feed { kCloudToDevice, kMethods, kTwinResponses, kDesiredProperties };

const char* ToString(Feed feed);  // "c2d", "methods", ...
std::optional<Feed> ParseFeed(std::string_view text);

using Subscriptions = std::set<Feed>;  // the feeds a device listens to

// Storage of lasting subscriptions. Thread-safe; failures throw.
class SubscriptionStore {
 public:
  virtual ~SubscriptionStore() = default;
  virtual Subscriptions Load(const std::string& client_id) = 0;
  // Replaces what is stored for the client (an empty set removes it).
  virtual void Save(const std::string& client_id, const Subscriptions& subscriptions) = 0;
};

}  // namespace iothub
