// One device's MQTT connection: the adapter between MQTT 3.1.1 on a byte stream
// and the protocol-neutral device session of core. It decodes packets, signs the
// device in (CONNECT), parses IoT Hub's topics into DeviceSession calls and
// answers in MQTT (CONNACK, PUBACK once committed, SUBACK with the granted QoS,
// $iothub/... responses); keep-alive and token expiry end it. All of its work
// runs on its strand; Close() may come from any thread.
// I/O is readiness-driven (wait until readable, then read into a stack buffer),
// so an idle connection holds no read buffer.
#pragma once

#include <asio/steady_timer.hpp>

#include <vector>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/device_connections.h"
#include "core/device_session.h"
#include "core/telemetry.h"
#include "mqtt/codec/packets.h"
#include "mqtt/mqtt_server.h"
#include "transport/byte_stream.h"
#include "transport/pending_connections.h"

namespace iothub::mqtt {

class MqttSession : public std::enable_shared_from_this<MqttSession>, public DeviceConnections::Connection {
 public:
  // pending_slot: its place among the connections not yet signed in, held until CONNECT is accepted.
  MqttSession(std::unique_ptr<transport::ByteStream> stream, const MqttServices& services,
              const MqttOptions& options, transport::PendingSlot pending_slot);

  void Start();
  // DeviceConnections::Connection. These run once signed in (the session is attached then), from any thread.
  void Close(std::string_view reason) override;
  bool SendMethodRequest(const std::string& method_name, const std::string& request_id,
                         const std::string& payload_json) override;
  void CloudToDeviceWaiting() override;
  void SendDesiredPropertiesPatch(int64_t version, const std::string& patch_json) override;

 private:
  enum class State { kHandshake, kAwaitConnect, kConnected, kClosing, kClosed };
  using Io = transport::ByteStream::Io;

  void DoHandshake();
  void DoRead();
  void OnReadable();
  // Waits for the stream to be readable (kWantRead) or writable (kWantWrite), then runs next.
  void WaitFor(Io want, void (MqttSession::*next)());
  void ProcessInput();
  void Handle(Packet packet);
  void HandleConnect(Connect& connect);
  void HandlePublish(Publish& publish);
  // $iothub/methods/res/{status}/?$rid={rid}: a device's answer to a direct method.
  bool HandleMethodResponse(const Publish& publish);
  // $iothub/twin/GET/?$rid= and $iothub/twin/PATCH/properties/reported/?$rid=: answered on $iothub/twin/res/.
  bool HandleTwinRequest(const Publish& publish);
  // Sends the device's waiting cloud-to-device messages not already on their way.
  void DeliverCloudToDevice();
  void HandlePuback(uint16_t packet_id);
  void HandleSubscribe(const Subscribe& subscribe);
  void HandleUnsubscribe(const Unsubscribe& unsubscribe);
  void RefuseConnect(ConnectReturnCode code, const std::string& why);
  void SendTelemetry(TelemetryMessage message, uint8_t qos, uint16_t packet_id);

  void Send(const Packet& packet);
  void DoWrite();
  void ArmTimer();
  void OnTimer();
  // Ends the connection: after what is queued is written, unless `now`. publish_will: the
  // device did not say goodbye, so the hub stores its will (an unclean end).
  void Shutdown(const std::string& reason, bool publish_will, bool now = false);
  void CloseSocket();

  const MqttServices& services_;
  const MqttOptions& options_;
  std::unique_ptr<transport::ByteStream> stream_;
  asio::any_io_executor executor_;  // the connection's strand
  asio::steady_timer timer_;
  std::optional<transport::PendingSlot> pending_slot_;  // until signed in

  State state_ = State::kHandshake;
  std::string rx_;  // bytes received and not yet decoded
  bool reading_ = false;        // a wait for input is pending
  // Encoded packets waiting to be written. A vector, not a deque: an empty
  // deque still allocates ~600 bytes, and most connections have nothing queued.
  std::vector<std::string> tx_;
  size_t tx_offset_ = 0;        // bytes of tx_.front() already written
  size_t tx_bytes_ = 0;
  bool writing_ = false;        // a wait for writability is pending

  // Set by CONNECT. device_ is set before the session is attached and never reset,
  // so the Connection calls from other threads may read it.
  std::string client_id_;
  std::unique_ptr<DeviceSession> device_;
  const ConnectionInfo* connection_ = nullptr;  // device_->connection()
  std::chrono::seconds keep_alive_allowance_{0};  // 0: no keep-alive
  Clock::time_point token_expiry_{};
  // MQTT's grants: the device session's feeds, each with the QoS granted for it.
  std::map<Feed, uint8_t> subscriptions_;
  std::map<uint16_t, std::string> c2d_in_flight_;  // packet id -> lock token, awaiting PUBACK
  uint16_t next_packet_id_ = 0;

  std::chrono::steady_clock::time_point last_received_;
};

}  // namespace iothub::mqtt
