// A device-to-cloud event as an Event Hubs reader receives it (spec §6.5): the
// body as a data section, the message's own properties, its application
// properties, and the annotations IoT Hub adds (x-opt-* where the event sits in
// its partition, iothub-* who sent it and when).
#pragma once

#include <string>

#include "core/event.h"

namespace iothub::amqp {

// The encoded AMQP message (bare message plus annotations), ready to send as one delivery.
std::string EncodeEventMessage(const Event& event);

}  // namespace iothub::amqp
