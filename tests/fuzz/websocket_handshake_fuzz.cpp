// The WebSocket upgrade request as a client writes it: header fields, one per
// line ("Name: value"), checked by AcceptWebSocket for MQTT and AMQP over 443.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/websocket_handshake.h"

namespace {

using iothub::fuzz::Check;
using namespace iothub;
using namespace iothub::http;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  HttpRequest request;
  request.method = "GET";
  request.path = "/$iothub/websocket";
  while (!input.empty()) {
    const size_t end = input.find('\n');
    std::string_view line = input.substr(0, end);
    input.remove_prefix(end == std::string_view::npos ? input.size() : end + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    request.headers.Add(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
  static constexpr std::string_view kProtocols[] = {"mqtt", "AMQPWSB10"};
  auto accepted = AcceptWebSocket(request, kProtocols);
  if (!accepted.ok()) {
    Check(accepted.status().code() == ErrorCode::kArgumentInvalid, "a refused upgrade is 400 ArgumentInvalid");
    return 0;
  }
  Check(accepted->protocol == "mqtt" || accepted->protocol == "AMQPWSB10", "the chosen protocol is one of ours");
  const std::string& r = accepted->response;
  Check(r.starts_with("HTTP/1.1 101 Switching Protocols\r\n") && r.ends_with("\r\n\r\n"), "a whole 101 answer");
  // Nothing the client sent is echoed, so it cannot add lines to the answer.
  size_t lines = 0;
  for (size_t at = r.find("\r\n"); at != std::string::npos; at = r.find("\r\n", at + 2)) ++lines;
  Check(lines == 6, "status line, four fields and the blank line");
  return 0;
}
