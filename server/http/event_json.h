// An event of the log as JSON, for the emulator's read API and event stream.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "core/event.h"

namespace iothub::http {

// {partition, sequenceNumber, offset, enqueuedTimeUtc, body, bodyEncoding,
//  properties, applicationProperties, annotations}. The body is parsed JSON when
// the content type says JSON and it parses ("json"), text when it is UTF-8
// ("text"), base64 otherwise ("base64"). Annotations include the x-opt-* ones an
// Event Hubs reader sees.
nlohmann::json EventToJson(const Event& event);

}  // namespace iothub::http
