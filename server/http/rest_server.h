// The HTTPS front door on 443 (RESTinio, on the process's event loop): the REST
// API through our router and handlers, WebSocket upgrades handed to the protocol
// that serves them, and event streams as chunked output. Limits apply before a
// body is read and before auth; no connection holds a thread.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/http_context.h"
#include "transport/byte_stream.h"

namespace asio {
class io_context;
}

namespace iothub::http {

struct RestOptions {
  size_t max_connections = 10000;  // open at once (upgraded WebSockets leave this count)
  int handler_threads = 4;         // run the REST handlers (SQLite work), never the I/O
  // Refused by closing the connection, before anything else is read.
  size_t max_body_bytes = 512 * 1024;  // chunked bodies too
  size_t max_header_fields = 100;
  size_t max_header_field_bytes = 16 * 1024;  // a name or a value
  size_t max_target_bytes = 16 * 1024;
  // A request must arrive whole within this of the connection opening or the last
  // answer; an idle keep-alive connection is closed after it.
  std::chrono::seconds read_timeout{60};
  std::chrono::seconds handler_timeout{660};  // a method call waits up to 300 s + 300 s for its device
  std::chrono::seconds write_timeout{30};
  std::chrono::seconds handshake_timeout{10};
};

// A protocol carried by WebSocket on 443: what serves its connections once upgraded.
struct WebSocketEndpoint {
  std::string path;      // raw request path, e.g. "/$iothub/websocket" (a query string is allowed)
  std::string protocol;  // the Sec-WebSocket-Protocol it speaks, e.g. "mqtt"
  // Takes the stream (WebSocket frames already unwrapped); its Handshake() sends the 101.
  std::function<void(std::unique_ptr<transport::ByteStream>)> serve;
};

class RestServer {
 public:
  // tls: null for plain HTTP (tests); it and io outlive the server.
  RestServer(asio::io_context& io, SSL_CTX* tls, HttpContext ctx, RestOptions options,
             std::vector<WebSocketEndpoint> websockets);
  ~RestServer();

  // Binds and starts accepting (the event loop serves); why not, when it cannot.
  // Binds with SO_REUSEADDR, as app/port_check tries it.
  std::optional<std::string> Open(const std::string& address, int port);
  // Stops accepting, frees the listener and ends open event streams; call once the
  // event loop has stopped, before EventLoop::Shutdown.
  void Close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace iothub::http
