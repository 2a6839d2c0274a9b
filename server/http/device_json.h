// The Device JSON of IoT Hub's REST API (spec §4.3), both ways.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "core/device.h"
#include "core/registry.h"
#include "core/status.h"

namespace iothub::http {

nlohmann::json DeviceToJson(const Device& device);

// Reads what a client may set. id_field is "deviceId" (PUT) or "id" (bulk).
// Wrong types are ArgumentInvalid; read-only fields are ignored.
Result<DeviceSpec> DeviceSpecFromJson(const nlohmann::json& body, const char* id_field);

// One item of POST /devices: the device plus importMode and eTag.
Result<BulkItem> BulkItemFromJson(const nlohmann::json& item);

nlohmann::json BulkResultToJson(const BulkResult& result);

}  // namespace iothub::http
