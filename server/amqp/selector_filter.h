// The start position an Event Hubs receiver asks for, in its link's selector
// filter (spec §6.4): `amqp.annotation.x-opt-offset > '-1'` and the like. The
// SDKs write one comparison, > or >=, on the offset, the sequence number or the
// enqueued time (milliseconds since the epoch); offset '-1' is the earliest
// event and '@latest' only new ones. Outside input: anything else is refused.
#pragma once

#include <string_view>

#include "core/event_reader.h"
#include "core/status.h"

namespace iothub::amqp {

Result<EventPosition> ParseSelectorFilter(std::string_view expression);

}  // namespace iothub::amqp
