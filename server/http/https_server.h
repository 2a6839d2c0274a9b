// The HTTPS front end: cpp-httplib's SSLServer, adapted to our own request and
// response types and router (routes.h), and IoT Hub's error form for everything
// that goes wrong before or inside a handler.
#pragma once

#include <memory>
#include <string>

#include "http/http_context.h"
#include "tls/dev_certificates.h"

namespace httplib {
class SSLServer;
}

namespace iothub::http {

class HttpsServer {
 public:
  static constexpr size_t kMaxBodyBytes = 512 * 1024;
  static constexpr int kKeepAliveSeconds = 5;

  // Throws std::runtime_error when the TLS material does not load.
  HttpsServer(const tls::TlsMaterial& tls, HttpContext ctx, size_t worker_threads);
  ~HttpsServer();

  // False when the address cannot be bound (see app/port_check for why).
  bool Bind(const std::string& address, int port);
  // Serves until Stop(); call from one thread.
  void Run();
  // Safe from any thread.
  void Stop();

 private:
  HttpContext ctx_;
  std::unique_ptr<httplib::SSLServer> server_;
};

}  // namespace iothub::http
