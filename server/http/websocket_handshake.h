// The server side of the WebSocket opening handshake (RFC 6455 §4.2) for the
// endpoints on 443 that carry another protocol (MQTT at /$iothub/websocket):
// which request is a valid upgrade, which sub-protocol it gets, and the 101
// answer. Protocol-neutral and library-free, like the REST handlers.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/http_message.h"

namespace iothub::http {

struct WebSocketAccept {
  std::string protocol;  // the sub-protocol chosen, one of those offered
  std::string response;  // the whole "HTTP/1.1 101 Switching Protocols" answer, to send as is
};

// Accepts `request` as a WebSocket upgrade speaking one of `protocols` (the first
// the client offers in Sec-WebSocket-Protocol, a comma-separated list, possibly
// over several fields). ArgumentInvalid when it is not a GET with Upgrade:
// websocket, Connection: upgrade, Sec-WebSocket-Version 13 and a 16-byte key, or
// offers none of `protocols`.
Result<WebSocketAccept> AcceptWebSocket(const HttpRequest& request, std::span<const std::string_view> protocols);

}  // namespace iothub::http
