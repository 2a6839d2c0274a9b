// What the HTTP handlers reach: the domain services, nothing of the wire.
#pragma once

#include "core/cloud_to_device.h"
#include "core/consumer_groups.h"
#include "core/device_connections.h"
#include "core/direct_methods.h"
#include "core/event_log.h"
#include "core/registry.h"
#include "core/timers.h"
#include "core/twins.h"
#include "core/sas_authenticator.h"

namespace iothub::http {

struct HttpContext {
  Registry& registry;
  const SasAuthenticator& authenticator;
  DeviceConnections& connections;
  EventLog& events;
  DirectMethods& methods;
  CloudToDevice& cloud_to_device;
  Twins& twins;
  Timers& timers;        // deadlines of the event streams (heartbeat, pacing); outlives the server
  int max_streams = 64;  // open event streams at once: a resource cap
  ConsumerGroups& consumer_groups;  // of the Event Hub-compatible endpoint
};

}  // namespace iothub::http
