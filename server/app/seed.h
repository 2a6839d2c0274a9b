// Devices declared in a file and created (or brought in line) at start, so CI
// and Docker users can connect with fixed keys and no create step.
#pragma once

#include <string>

#include "core/registry.h"
#include "core/status.h"

namespace iothub::app {

// The file is a JSON array of devices in the REST API's Device form (or an
// object with such an array under "devices"):
//   [{"deviceId": "sensor-1", "authentication": {"symmetricKey": {"primaryKey": "...", "secondaryKey": "..."}}}]
// Missing devices are created; existing ones are updated to match. Returns the
// number of devices, or why the file was refused (nothing is written then).
Result<int> ApplySeedFile(const std::string& path, Registry& registry);

}  // namespace iothub::app
