// One device's MQTT connection: TLS handshake, CONNECT and sign-in, telemetry
// into the event log (PUBACK once committed), subscriptions, keep-alive and
// token expiry. All of its work runs on its strand; Close() may come from any thread.
// I/O is readiness-driven (wait until readable, then read into a stack buffer),
// so an idle connection holds no read buffer.
#pragma once

#include <asio.hpp>

#include <vector>
#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "core/device_connections.h"
#include "core/telemetry.h"
#include "mqtt/codec/packets.h"
#include "mqtt/mqtt_server.h"
#include "tls/tls_channel.h"

namespace iothub::mqtt {

class MqttSession : public std::enable_shared_from_this<MqttSession>, public DeviceConnections::Connection {
 public:
  // tls: the server's TLS context, or null for the plain-TCP listener.
  // pending_slot: its place among the connections not yet signed in, held until CONNECT is accepted.
  MqttSession(asio::ip::tcp::socket socket, SSL_CTX* tls, const MqttServices& services, const MqttOptions& options,
              PendingSlot pending_slot);

  void Start();
  void Close(std::string_view reason) override;
  bool SendMethodRequest(const std::string& method_name, const std::string& request_id,
                         const std::string& payload_json) override;
  void CloudToDeviceWaiting() override;
  void SendDesiredPropertiesPatch(int64_t version, const std::string& patch_json) override;

 private:
  enum class State { kHandshake, kAwaitConnect, kConnected, kClosing, kClosed };

  void DoHandshake();
  void DoRead();
  void OnReadable();
  // Waits for the socket to be readable (kWantRead) or writable (kWantWrite), then runs next.
  void WaitFor(tls::TlsChannel::Io want, void (MqttSession::*next)());
  void ProcessInput();
  void Handle(Packet packet);
  void HandleConnect(Connect& connect);
  void HandlePublish(Publish& publish);
  // $iothub/methods/res/{status}/?$rid={rid}: a device's answer to a direct method.
  bool HandleMethodResponse(const Publish& publish);
  // $iothub/twin/GET/?$rid= and $iothub/twin/PATCH/properties/reported/?$rid=: answered on $iothub/twin/res/.
  bool HandleTwinRequest(const Publish& publish);
  void SendTwinResponse(int status, const std::string& request_id, const std::string& extra_query,
                        const std::string& body);
  // Records a change of subscriptions (stored for a lasting session); false if the connection had to close.
  bool SubscriptionsChanged();
  // Sends the device's waiting cloud-to-device messages not already on their way.
  void DeliverCloudToDevice();
  void HandlePuback(uint16_t packet_id);
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

  const MqttServices& services_;
  const MqttOptions& options_;
  asio::ip::tcp::socket socket_;
  std::unique_ptr<tls::TlsChannel> tls_;  // null on the plain-TCP listener
  asio::any_io_executor executor_;         // the connection's strand
  asio::steady_timer timer_;
  std::string peer_;
  std::optional<PendingSlot> pending_slot_;  // until signed in

  State state_ = State::kHandshake;
  std::string rx_;  // bytes received and not yet decoded
  bool reading_ = false;        // a wait for input is pending
  // Encoded packets waiting to be written. A vector, not a deque: an empty
  // deque still allocates ~600 bytes, and most connections have nothing queued.
  std::vector<std::string> tx_;
  size_t tx_offset_ = 0;        // bytes of tx_.front() already written
  size_t tx_bytes_ = 0;
  bool writing_ = false;        // a wait for writability is pending

  // Set by CONNECT.
  std::string client_id_;
  std::optional<ConnectionInfo> connection_;
  std::optional<Will> will_;
  bool clean_session_ = true;
  std::chrono::seconds keep_alive_allowance_{0};  // 0: no keep-alive
  Clock::time_point token_expiry_{};
  Subscriptions subscriptions_;
  std::atomic<bool> listens_for_methods_{false};  // read from other threads
  std::map<uint16_t, std::string> c2d_in_flight_;  // packet id -> lock token, awaiting PUBACK
  uint16_t next_packet_id_ = 0;

  std::chrono::steady_clock::time_point last_received_;
  std::chrono::steady_clock::time_point last_activity_noted_{};
  size_t in_flight_ = 0;  // telemetry appended and not yet committed
};

}  // namespace iothub::mqtt
