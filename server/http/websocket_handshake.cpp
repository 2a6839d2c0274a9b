#include "http/websocket_handshake.h"

#include <algorithm>
#include <cctype>

#include "core/crypto.h"

namespace iothub::http {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls `token` with each comma-separated token of every field named `name`; stops when it returns true.
template <class F>
bool AnyToken(const HttpHeaders& headers, std::string_view name, F token) {
  for (const auto& [field, value] : headers.fields()) {
    if (!EqualsNoCase(field, name)) continue;
    std::string_view rest = value;
    while (true) {
      const size_t comma = rest.find(',');
      if (token(Trim(rest.substr(0, comma)))) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

}  // namespace

Result<WebSocketAccept> AcceptWebSocket(const HttpRequest& request, std::span<const std::string_view> protocols) {
  auto invalid = [](std::string why) { return Status::ArgumentInvalid("WebSocket upgrade refused: " + why); };
  if (request.method != "GET") return invalid("the method must be GET");
  if (!AnyToken(request.headers, "Upgrade", [](std::string_view t) { return EqualsNoCase(t, "websocket"); })) {
    return invalid("Upgrade: websocket is missing");
  }
  if (!AnyToken(request.headers, "Connection", [](std::string_view t) { return EqualsNoCase(t, "upgrade"); })) {
    return invalid("Connection: Upgrade is missing");
  }
  const std::string* version = request.headers.Find("Sec-WebSocket-Version");
  if (!version || Trim(*version) != "13") return invalid("Sec-WebSocket-Version must be 13");
  const std::string* key = request.headers.Find("Sec-WebSocket-Key");
  const auto nonce = key ? crypto::Base64Decode(Trim(*key)) : std::nullopt;
  if (!nonce || nonce->size() != 16) return invalid("Sec-WebSocket-Key must be 16 bytes in base64");

  std::string chosen;
  AnyToken(request.headers, "Sec-WebSocket-Protocol", [&](std::string_view offered) {
    const bool ours = std::find(protocols.begin(), protocols.end(), offered) != protocols.end();
    if (ours) chosen = std::string(offered);
    return ours;
  });
  if (chosen.empty()) {
    std::string names;
    for (std::string_view p : protocols) names += (names.empty() ? "'" : ", '") + std::string(p) + "'";
    return invalid("Sec-WebSocket-Protocol must offer " + names);
  }

  // RFC 6455 §4.2.2: the key with this GUID appended, SHA-1, base64.
  const std::string accept =
      crypto::Base64Encode(crypto::Sha1(std::string(Trim(*key)) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"));
  std::string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  response += "Sec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Protocol: " + chosen + "\r\n\r\n";
  return WebSocketAccept{std::move(chosen), std::move(response)};
}

}  // namespace iothub::http
