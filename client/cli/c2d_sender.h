// `iothub c2d send` over AMQP, as azure-iothub's Client sends: to the hub's AMQP port (TLS
// with the emulator's CA, or plain), no SASL, a $cbs put-token for the hub's host name with
// a token of the connection string's policy, then one message on /messages/devicebound
// addressed by its `to` (/devices/{id}/messages/devicebound). Returns once the hub accepted
// (queued) it; throws CliError with the hub's reason when it refuses.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace iothub::cli {

struct CloudToDeviceSendOptions {
  std::string host;           // where to connect
  int port = 5671;
  bool tls = true;            // false: plain AMQP (the emulator's 5672)
  std::string ca_file;        // the emulator's CA, for TLS
  std::string host_name;      // the connection string's HostName: the token's audience
  std::string policy;         // a policy with ServiceConnect, and its key
  std::string key;
  std::string device_id;
  std::string body;
  std::string message_id;
  std::string correlation_id;
  std::string content_type;
  std::string ack;            // none, positive, negative, full; "" sends none
  int ttl_seconds = 0;        // 0: the hub's default
  std::vector<std::pair<std::string, std::string>> properties;
  int timeout_seconds = 30;
};

void SendCloudToDeviceOverAmqp(const CloudToDeviceSendOptions& options);

}  // namespace iothub::cli
