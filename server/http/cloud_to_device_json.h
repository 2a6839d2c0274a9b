// The body of the emulator's C2D send endpoint (POST /emulator/devices/{id}/messages).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <string>

#include "core/cloud_to_device.h"
#include "core/status.h"

namespace iothub::http {

// {"body": "text" or any JSON, "messageId", "correlationId", "userId", "contentType", "contentEncoding",
//  "ack": none|positive|negative|full, "ttlSeconds", "properties": {"k": "v"}}
// Wrong types and values are ArgumentInvalid.
Result<CloudToDeviceMessage> CloudToDeviceMessageFromJson(const nlohmann::json& body, const std::string& device_id);

}  // namespace iothub::http
