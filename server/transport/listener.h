// A device endpoint's listening port: accepts TCP connections, refuses them
// past the pending-connection cap, wraps each in TLS (or not, for a plain-TCP
// debugging port) and hands the stream to the protocol's session factory.
// Each accepted connection gets its own strand of the io_context.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "transport/byte_stream.h"
#include "transport/pending_connections.h"
#include "transport/tls_server_context.h"

namespace iothub::transport {

class Listener {
 public:
  // Starts the protocol's session on a new stream, which holds `slot` until it signs in.
  using SessionFactory = std::function<void(std::unique_ptr<ByteStream> stream, PendingSlot slot)>;

  // tls: null for plain TCP. tls and pending must outlive the listener.
  Listener(asio::io_context& io, const TlsServerContext* tls, PendingConnections& pending, SessionFactory factory);

  // Binds and listens; the reason when it cannot, naming `port_flag`, the option that chooses another port.
  std::optional<std::string> Bind(const std::string& address, int port, std::string_view port_flag);
  // Accepts until Close(). Only after a successful Bind.
  void Start();
  // Stops accepting; call on the io_context (or once it has stopped).
  void Close();
  bool is_open() const { return acceptor_.is_open(); }
  int port() const;  // the bound port, 0 when not bound

 private:
  void Accept();

  asio::io_context& io_;
  const TlsServerContext* tls_;
  PendingConnections& pending_;
  SessionFactory factory_;
  asio::ip::tcp::acceptor acceptor_;
};

}  // namespace iothub::transport
