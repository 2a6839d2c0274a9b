// One HTTP exchange over TLS with bytes written by hand, for requests no client
// library would send (no Host header, say). Verifies the server against the test CA.
#pragma once

#include <string>

namespace iothub::testing {

// Sends `request` as is to localhost:port and returns everything the server sends
// until it closes the connection (ask for that with "Connection: close") or 10 s
// pass. Throws std::runtime_error when the connection or handshake fails.
std::string RawHttpsExchange(int port, const std::string& request);

// A TLS connection to localhost:port held open, for tests that write more than a
// server should take or keep a connection idle. Every call is bounded (10 s).
class RawTlsConnection {
 public:
  // Connects and completes the handshake (verifying the test CA); throws when it cannot.
  explicit RawTlsConnection(int port);
  ~RawTlsConnection();
  RawTlsConnection(const RawTlsConnection&) = delete;
  RawTlsConnection& operator=(const RawTlsConnection&) = delete;

  // False once the server has closed or reset the connection (or 10 s passed).
  bool Write(const std::string& bytes);
  // Everything the server sends until it closes or 10 s pass.
  std::string ReadAll();

 private:
  struct State;
  State* state_;
};

// The status code of a response's status line, 0 when there is none.
int StatusOf(const std::string& raw_response);

}  // namespace iothub::testing
