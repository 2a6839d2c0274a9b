#include "core/device_subscriptions.h"

namespace iothub {

const char* ToString(Feed feed) {
  switch (feed) {
    case Feed::kCloudToDevice: return "c2d";
    case Feed::kMethods: return "methods";
    case Feed::kTwinResponses: return "twin-responses";
    case Feed::kDesiredProperties: return "desired-properties";
  }
  return "c2d";
}

std::optional<Feed> ParseFeed(std::string_view text) {
  for (Feed f : {Feed::kCloudToDevice, Feed::kMethods, Feed::kTwinResponses, Feed::kDesiredProperties}) {
    if (text == ToString(f)) return f;
  }
  return std::nullopt;
}

}  // namespace iothub
