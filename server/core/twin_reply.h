// The answer to a device's own twin request (get the twin, patch reported
// properties), in IoT Hub's protocol-neutral shape: a status and a body. A
// failure's body is {"errorCode":N,"message":"..."}, which the SDKs turn into an
// error whatever the protocol (spec §3.4; AMQP twin links use it too).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"

namespace iothub {

struct TwinReply {
  int status = 200;                // 200 (get), 204 (patch), else the failure's HTTP status
  std::string body;                // the twin's properties, nothing, or the error body
  std::optional<int64_t> version;  // after a patch: the new reported $version
};

// status: the failure's HTTP status (the first three digits of its error code).
TwinReply ErrorReply(const Status& failure);

}  // namespace iothub
