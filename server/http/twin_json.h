// The Twin JSON of IoT Hub's REST API (spec §4.3): the device's identity fields next to
// tags and the desired and reported properties, each section with `$metadata` and `$version`.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "core/device.h"
#include "core/twins.h"

namespace iothub::http {

nlohmann::json TwinToJson(const Device& device, const TwinDocument& twin);

}  // namespace iothub::http
