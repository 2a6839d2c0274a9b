// A device-to-cloud message as the event log keeps it and the Event Hub-compatible
// readers see it (spec §6.5).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time_format.h"

namespace iothub {

using Properties = std::vector<std::pair<std::string, std::string>>;

// The AMQP `properties` section a message carries.
struct SystemProperties {
  std::optional<std::string> message_id;
  std::optional<std::string> correlation_id;
  std::optional<std::string> user_id;
  std::optional<std::string> content_type;
  std::optional<std::string> content_encoding;
  std::optional<std::string> absolute_expiry_time;  // ISO 8601, as the device sent it
};

// What readers of one protocol make of a committed event (its event-stream JSON, its
// AMQP message), made once and shared by all of them: with several live readers, the
// event is encoded once, not once per reader. Thread-safe.
class EventRenderings {
 public:
  enum Slot { kEventStreamJson, kAmqpMessage, kSlots };
  // The rendering in `slot`, made by make() the first time it is asked for.
  const std::string& Get(Slot slot, const std::function<std::string()>& make) {
    std::call_once(once_[slot], [&] { value_[slot] = make(); });
    return value_[slot];
  }

 private:
  std::array<std::once_flag, kSlots> once_;
  std::array<std::string, kSlots> value_;
};

struct Event {
  std::string body;
  SystemProperties properties;
  Properties application_properties;
  // iothub-connection-device-id, iothub-connection-auth-method, iothub-message-source, dt-dataschema, ...
  Properties annotations;

  // Where the log put it; set by EventLog::Append.
  int partition = -1;
  int64_t sequence_number = -1;
  int64_t offset = -1;  // byte position in the partition, as Event Hubs offsets are
  TimePoint enqueued_time{};
  // Set for events handed to live readers; null for events read back from the store.
  std::shared_ptr<EventRenderings> renderings;

  const std::string* Annotation(std::string_view name) const {
    for (const auto& [k, v] : annotations) {
      if (k == name) return &v;
    }
    return nullptr;
  }
};

}  // namespace iothub
