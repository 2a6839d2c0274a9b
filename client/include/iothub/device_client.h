// A device client for IoT Hub (and the emulator) over MQTT 3.1.1 with TLS, on libmosquitto.
//
//   auto cs = iothub::client::DeviceConnectionString::Parse(getenv("IOTHUB_DEVICE_CONNECTION_STRING"));
//   iothub::client::DeviceClient client(cs, {.ca_file = "data/certs/ca.pem"});
//   client.Open();
//   iothub::client::Message m{.body = R"({"windSpeed": 10.2})", .message_id = "m-1"};
//   m.properties.emplace_back("temperatureAlert", "false");
//   client.SendEvent(m, [](bool ok) { /* the hub stored it (PUBACK) */ });
//   client.Close();  // waits for what is queued, up to the close timeout
//
// Back-end to device: set handlers before Open() and the client subscribes on every connection.
//   client.OnMethod([](const std::string& name, const std::string& payload_json) {
//     return iothub::client::MethodResponse{200, R"({"ok":true})"};
//   });
//   client.OnMessage([](const iothub::client::ReceivedMessage& m) { ... });   // cloud-to-device
//   client.OnDesiredProperties([](const std::string& patch_json) { ... });   // twin desired changes
//   auto twin = client.GetTwin(std::chrono::seconds(10));                     // {"desired":..., "reported":...}
//   client.UpdateReportedProperties(R"({"telemetryInterval": 5})", std::chrono::seconds(10));
//
// Threading: every call is thread-safe; callbacks run on the client's own thread.
// Delivery: at least once. Messages queue while the connection is down and are
// sent again after it comes back (exponential back-off with jitter between
// attempts); the SAS token is renewed before it expires.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "iothub/connection_string.h"

namespace iothub::client {

struct Message {
  std::string body;
  std::string message_id;        // $.mid
  std::string correlation_id;    // $.cid
  std::string content_type;      // $.ct, e.g. "application/json"
  std::string content_encoding;  // $.ce, e.g. "utf-8"
  std::vector<std::pair<std::string, std::string>> properties;  // application properties
};

struct DeviceClientOptions {
  std::string ca_file;  // PEM file of the CA to trust (the emulator's data/certs/ca.pem); empty: the system's
  int default_port = 8883;                          // when the host name carries none
  int keep_alive_seconds = 60;
  std::chrono::seconds token_lifetime{3600};        // SAS tokens made from a key
  std::chrono::milliseconds initial_backoff{500};   // first wait after a failed connection
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds close_timeout{10000};   // how long Close() waits for queued messages
};

// A cloud-to-device message as the device receives it.
struct ReceivedMessage {
  std::string body;
  std::string message_id;
  std::string correlation_id;
  std::vector<std::pair<std::string, std::string>> properties;  // application properties
};

// A direct method's answer: a status the device chooses and a JSON payload ("null" for none).
struct MethodResponse {
  int status = 200;
  std::string payload_json = "null";
};

// Why the connection changed: for logs and for the simulator's output.
struct ConnectionStatus {
  bool connected = false;
  std::string reason;  // "connected", "not authorized", "connection lost: ...", ...
};

class DeviceClient {
 public:
  using SendCallback = std::function<void(bool acknowledged)>;

  // Throws std::invalid_argument when the connection string has neither a key nor a signature.
  DeviceClient(DeviceConnectionString connection, DeviceClientOptions options = {});
  ~DeviceClient();  // Close()
  DeviceClient(const DeviceClient&) = delete;
  DeviceClient& operator=(const DeviceClient&) = delete;

  // Starts connecting in the background; returns at once.
  void Open();
  // Waits until connected, up to timeout; false if not.
  bool WaitConnected(std::chrono::milliseconds timeout);
  // Queues a telemetry message. `done(true)` once the hub acknowledged it;
  // `done(false)` only if the client closes before it could be.
  void SendEvent(Message message, SendCallback done = {});
  // Messages queued or awaiting acknowledgement.
  size_t pending() const;
  void OnConnectionStatus(std::function<void(const ConnectionStatus&)> callback);

  // Handlers run on the client's thread. Set them before Open().
  void OnMethod(std::function<MethodResponse(const std::string& name, const std::string& payload_json)> handler);
  void OnMessage(std::function<void(const ReceivedMessage&)> handler);
  void OnDesiredProperties(std::function<void(const std::string& patch_json)> handler);

  // The device's twin as {"desired": {...}, "reported": {...}}, or nullopt (not connected, or no answer in time).
  std::optional<std::string> GetTwin(std::chrono::milliseconds timeout);
  // Merges a JSON patch into the reported properties (null deletes); false if it failed or timed out.
  bool UpdateReportedProperties(const std::string& patch_json, std::chrono::milliseconds timeout);
  // Sends what is queued (up to close_timeout), then disconnects.
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The MQTT topic IoT Hub expects for a message: devices/{id}/messages/events/{URL-encoded property bag}.
std::string TelemetryTopic(const std::string& device_id, const Message& message);

}  // namespace iothub::client
