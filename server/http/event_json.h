// An event of the log as JSON, for the emulator's read API and event stream.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/event.h"

namespace iothub::http {

// {partition, sequenceNumber, offset, enqueuedTimeUtc, body, bodyEncoding,
//  properties, applicationProperties, annotations}. The body is parsed JSON when
// the content type says JSON and it parses ("json"), text when it is UTF-8
// ("text"), base64 otherwise ("base64"). Annotations include the x-opt-* ones an
// Event Hubs reader sees. Property text that is not UTF-8 stays as it was: write
// the document with nlohmann's error_handler_t::replace (EventToJsonText does).
nlohmann::json EventToJson(const Event& event);

// EventToJson as one line of text, bytes that are not UTF-8 written as U+FFFD.
std::string EventToJsonText(const Event& event);

}  // namespace iothub::http
