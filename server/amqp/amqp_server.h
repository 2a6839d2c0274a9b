// The AMQP 1.0 endpoint: AMQPS (TLS, 5671), plain AMQP (5672: what
// `UseDevelopmentEmulator=true` connection strings use) and the connections the
// HTTPS server hands over after a WebSocket upgrade (Adopt). Everything runs on the
// process's event loop, each connection on its own strand.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "amqp/amqp_connection.h"
#include "amqp/hub_links.h"
#include "transport/byte_stream.h"
#include "transport/tls_server_context.h"

namespace asio {
class io_context;
}

namespace iothub::amqp {

struct AmqpListenOptions {
  std::string bind = "0.0.0.0";
  int tls_port = 5671;
  int plain_port = 5672;  // 0: none
  size_t max_pending_connections = 256;  // connections not yet past OPEN
  AmqpOptions connection;
};

class AmqpServer {
 public:
  // io, tls and services outlive the server and its connections.
  AmqpServer(asio::io_context& io, const transport::TlsServerContext& tls, HubServices services,
             AmqpListenOptions options);
  ~AmqpServer();

  // Binds the listeners; the reason when one cannot be bound.
  std::optional<std::string> Bind();
  void Start();
  // Serves AMQP on a stream opened elsewhere (a WebSocket after its upgrade). Any thread.
  void Adopt(std::unique_ptr<transport::ByteStream> stream);
  // Stops accepting, frees the listeners, and has every connection let go of the hub's
  // services. Only with the event loop stopped (after EventLoop::Stop, before Shutdown).
  void Stop();
  int tls_port() const;
  int plain_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iothub::amqp
