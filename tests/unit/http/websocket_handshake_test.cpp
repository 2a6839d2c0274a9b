#include "http/websocket_handshake.h"

#include <doctest/doctest.h>

namespace iothub::http {
namespace {

constexpr std::string_view kMqtt[] = {"mqtt"};

HttpRequest Upgrade(std::string protocols) {
  HttpRequest r;
  r.method = "GET";
  r.path = "/$iothub/websocket";
  r.headers.Add("Host", "localhost");
  r.headers.Add("Upgrade", "websocket");
  r.headers.Add("Connection", "Upgrade");
  r.headers.Add("Sec-WebSocket-Version", "13");
  r.headers.Add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");  // RFC 6455 §1.3's example
  if (!protocols.empty()) r.headers.Add("Sec-WebSocket-Protocol", std::move(protocols));
  return r;
}

TEST_CASE("WebSocket handshake: the 101 answer carries RFC 6455's accept value and the chosen sub-protocol") {
  auto accepted = AcceptWebSocket(Upgrade("mqtt"), kMqtt);
  REQUIRE(accepted.ok());
  CHECK(accepted->protocol == "mqtt");
  CHECK(accepted->response ==
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n");
}

TEST_CASE("WebSocket handshake: a sub-protocol is found in a list, over several fields, in any header case") {
  HttpRequest r = Upgrade("chat, superchat");
  r.headers.Add("sec-websocket-protocol", " mqtt ,x");
  auto accepted = AcceptWebSocket(r, kMqtt);
  REQUIRE(accepted.ok());
  CHECK(accepted->protocol == "mqtt");
  HttpRequest keep_alive = Upgrade("mqtt");
  keep_alive.headers.Set("Connection", "keep-alive, Upgrade");
  CHECK(AcceptWebSocket(keep_alive, kMqtt).ok());  // what browsers and some clients send
}

TEST_CASE("WebSocket handshake: what is not a valid upgrade to our protocol is 400 ArgumentInvalid") {
  struct Case {
    const char* name;
    HttpRequest request;
  };
  auto with = [](const char* field, const char* value) {
    HttpRequest r = Upgrade("mqtt");
    r.headers.Set(field, value);
    return r;
  };
  HttpRequest post = Upgrade("mqtt");
  post.method = "POST";
  const Case cases[] = {
      {"no sub-protocol", Upgrade("")},
      {"another sub-protocol", Upgrade("AMQPWSB10")},
      {"a sub-protocol that only starts like ours", Upgrade("mqttv5")},
      {"not GET", post},
      {"Upgrade is not websocket", with("Upgrade", "h2c")},
      {"Connection without upgrade", with("Connection", "keep-alive")},
      {"version 8", with("Sec-WebSocket-Version", "8")},
      {"a key that is not base64", with("Sec-WebSocket-Key", "not base64!")},
      {"a key of 15 bytes", with("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA")},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto refused = AcceptWebSocket(c.request, kMqtt);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == ErrorCode::kArgumentInvalid);
  }
}

}  // namespace
}  // namespace iothub::http
