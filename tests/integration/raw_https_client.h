// One HTTP exchange over TLS with bytes written by hand, for requests no client
// library would send (no Host header, say). Verifies the server against the test CA.
#pragma once

#include <string>

namespace iothub::testing {

// Sends `request` as is to localhost:port and returns everything the server sends
// until it closes the connection (ask for that with "Connection: close") or 10 s
// pass. Throws std::runtime_error when the connection or handshake fails.
std::string RawHttpsExchange(int port, const std::string& request);

// The status code of a response's status line, 0 when there is none.
int StatusOf(const std::string& raw_response);

}  // namespace iothub::testing
