// The device MQTT endpoint: MQTT 3.1.1 over TLS (8883) and, for debugging, an
// optional plain-TCP listener (transport::Listener), plus the connections the
// HTTPS server hands over after a WebSocket upgrade (Adopt). Everything runs on
// the process's event loop (transport::EventLoop), each connection on its own strand.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/device_authenticator.h"
#include "core/device_session.h"
#include "core/sas_authenticator.h"
#include "transport/byte_stream.h"
#include "transport/tls_server_context.h"

namespace asio {
class io_context;
}

namespace iothub::mqtt {

struct MqttServices {
  const DeviceAuthenticator& authenticator;
  const SasAuthenticator& sas;  // for the host in the CONNECT user name
  DeviceServices device;        // what a signed-in device's session works with
};

struct MqttOptions {
  std::string tls_bind = "0.0.0.0";
  int tls_port = 8883;
  std::string plain_bind = "127.0.0.1";
  int plain_port = 0;  // 0: no plain-TCP listener
  size_t max_message_bytes = 256 * 1024;              // IoT Hub's D2C limit
  std::chrono::seconds handshake_timeout{10};         // TLS handshake and CONNECT must be done by then
  size_t max_in_flight = 1000;                        // appends awaiting commit before a connection stops reading
  // Before sign-in: a CONNECT (user name, SAS token, a will) fits in this, and no more
  // than this many connections may be waiting to sign in at once.
  size_t max_connect_bytes = 64 * 1024;
  size_t max_pending_connections = 256;
};

class MqttServer {
 public:
  // io: the event loop's; tls: its TLS context. Both outlive the server and its connections.
  MqttServer(asio::io_context& io, const transport::TlsServerContext& tls, MqttServices services,
             MqttOptions options);
  ~MqttServer();

  // Binds the listeners; the reason when one cannot be bound.
  std::optional<std::string> Bind();
  // Starts accepting (the event loop runs the connections).
  void Start();
  // Serves MQTT on a stream opened elsewhere (a WebSocket after its upgrade), as on
  // 8883: it counts among the connections waiting to sign in, and is closed at once
  // when too many are. Any thread.
  void Adopt(std::unique_ptr<transport::ByteStream> stream);
  // Stops accepting and frees the listeners; call once the event loop has stopped,
  // before EventLoop::Shutdown (the connections go with the loop).
  void Stop();
  int tls_port() const;
  int plain_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iothub::mqtt
