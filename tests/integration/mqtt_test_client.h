// A bare MQTT client for tests: TLS (verifying the development CA) or plain TCP,
// our codec for the bytes, and full control over what is sent, so tests can
// misbehave as no client library would.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "mqtt/codec/packets.h"

namespace iothub::testing {

class MqttTestClient {
 public:
  // Connects to localhost:port; with tls, verifies the server against the test CA.
  MqttTestClient(int port, bool tls = true);
  ~MqttTestClient();

  void Send(const mqtt::Packet& packet);
  void SendRaw(const std::string& bytes);
  // The next packet, or nullopt when none arrives in time or the server closed the connection.
  std::optional<mqtt::Packet> Receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // True when the server closes the connection within the timeout (packets before that are skipped).
  bool WaitClosed(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool closed() const { return closed_; }
  // Drops the TCP connection without DISCONNECT, as a crashed device would.
  void Abort();
  // Sends bytes and closes this side at once (TLS close_notify, then FIN), in one TCP
  // segment where the kernel allows, as a client that writes and exits does.
  void SendAndClose(const std::string& bytes);

  // CONNECT as an IoT Hub device and return the CONNACK (nullopt if none came).
  std::optional<mqtt::Connack> Connect(const std::string& device_id, const std::string& token,
                                       uint16_t keep_alive = 60, bool clean_session = true,
                                       std::optional<mqtt::Will> will = std::nullopt,
                                       const std::string& host = "localhost");

 private:
  bool ReadMore(std::chrono::milliseconds timeout);

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string rx_;
  bool closed_ = false;
};

// A device token signed with key, valid for valid_seconds (negative: already expired).
std::string DeviceToken(const std::string& device_id, const std::string& key, int64_t valid_seconds = 3600,
                        const std::string& host = "localhost");
// A token of a hub policy scoped to the device.
std::string PolicyDeviceToken(const std::string& device_id, const std::string& policy, const std::string& key,
                              int64_t valid_seconds = 3600);

}  // namespace iothub::testing
