// One device's MQTT connection: TLS handshake, CONNECT and sign-in, telemetry
// into the event log (PUBACK once committed), subscriptions, keep-alive and
// token expiry. All of its work runs on its strand; Close() may come from any thread.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>

#include <deque>
#include <memory>
#include <string>
#include <variant>

#include "core/device_connections.h"
#include "core/telemetry.h"
#include "mqtt/codec/packets.h"
#include "mqtt/mqtt_server.h"

namespace iothub::mqtt {

class MqttSession : public std::enable_shared_from_this<MqttSession>, public DeviceConnections::Connection {
 public:
  using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

  // tls: the server's TLS context, or null for the plain-TCP listener.
  MqttSession(asio::ip::tcp::socket socket, asio::ssl::context* tls, const MqttServices& services,
              const MqttOptions& options);

  void Start();
  void Close(std::string_view reason) override;

 private:
  enum class State { kHandshake, kAwaitConnect, kConnected, kClosing, kClosed };

  void DoRead();
  void OnRead(const asio::error_code& ec, size_t n);
  void ProcessInput();
  void Handle(Packet packet);
  void HandleConnect(Connect& connect);
  void HandlePublish(Publish& publish);
  void HandleSubscribe(const Subscribe& subscribe);
  void HandleUnsubscribe(const Unsubscribe& unsubscribe);
  void RefuseConnect(ConnectReturnCode code, const std::string& why);
  void AppendTelemetry(TelemetryMessage message, uint8_t qos, uint16_t packet_id, const char* source);

  void Send(const Packet& packet);
  void DoWrite();
  void ArmTimer();
  void OnTimer();
  // Ends the connection: after what is queued is written, unless `now`.
  void Shutdown(const std::string& reason, bool publish_will, bool now = false);
  void CloseSocket();

  template <typename Fn>
  void WithStream(Fn&& fn) {
    std::visit(fn, stream_);
  }

  const MqttServices& services_;
  const MqttOptions& options_;
  std::variant<asio::ip::tcp::socket, TlsStream> stream_;
  asio::any_io_executor executor_;  // the connection's strand
  asio::steady_timer timer_;
  std::string peer_;

  State state_ = State::kHandshake;
  std::array<char, 2048> read_chunk_;
  std::string rx_;  // bytes received and not yet decoded
  bool reading_ = false;
  std::deque<std::string> tx_;  // encoded packets waiting to be written
  size_t tx_bytes_ = 0;
  bool writing_ = false;

  // Set by CONNECT.
  std::string client_id_;
  std::optional<ConnectionInfo> connection_;
  std::optional<Will> will_;
  bool clean_session_ = true;
  std::chrono::seconds keep_alive_allowance_{0};  // 0: no keep-alive
  Clock::time_point token_expiry_{};
  Subscriptions subscriptions_;

  std::chrono::steady_clock::time_point last_received_;
  std::chrono::steady_clock::time_point last_activity_noted_{};
  size_t in_flight_ = 0;  // telemetry appended and not yet committed
};

}  // namespace iothub::mqtt
