// What the AMQP endpoint serves from: the hub's services, which outlive every connection.
#pragma once

#include <functional>
#include <string>

#include "amqp/requests.h"
#include "core/event_log.h"
#include "core/partition_readers.h"
#include "core/sas_authenticator.h"

namespace iothub {
class CloudToDevice;
class CloudToDeviceFeedback;
class DeviceAuthenticator;
class Registry;
struct DeviceServices;
}  // namespace iothub

namespace iothub::amqp {

struct HubServices {
  // The Event Hub-compatible entity.
  EventLog& log;
  const SasAuthenticator& sas;
  PartitionReaders& readers;
  EntityInfo entity;
  // True when the consumer group exists (names are case-insensitive).
  std::function<bool(const std::string&)> has_consumer_group;
  // The service's nodes (/messages/devicebound, feedback) and the devices' own links;
  // null where a test serves the Event Hub-compatible entity alone.
  Registry* registry = nullptr;
  CloudToDevice* cloud_to_device = nullptr;
  CloudToDeviceFeedback* feedback = nullptr;
  const DeviceAuthenticator* devices = nullptr;
  const DeviceServices* device = nullptr;
};

}  // namespace iothub::amqp
