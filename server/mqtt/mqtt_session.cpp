#include "mqtt/mqtt_session.h"

#include <spdlog/spdlog.h>

#include <asio/post.hpp>

#include "mqtt/codec/mqtt_codec.h"
#include "mqtt/iothub_topics.h"

namespace iothub::mqtt {
namespace {

// IoT Hub allows 1.5 x the client's keep-alive, capped at 1767 s (spec §2.1).
constexpr std::chrono::seconds kMaxKeepAliveAllowance{1767};
constexpr size_t kMaxQueuedBytes = 4 * 1024 * 1024;  // a client that reads nothing is cut off
constexpr auto kCloseGrace = std::chrono::seconds(5);  // to flush a last CONNACK before closing

// A lasting session keeps feeds, not MQTT's QoS: restored, each is granted what the SDKs
// ask for it (spec §3.2). Only cloud-to-device messages use it, and they are acknowledged.
uint8_t RestoredQos(Feed feed) { return feed == Feed::kCloudToDevice ? 1 : 0; }

}  // namespace

MqttSession::MqttSession(std::unique_ptr<transport::ByteStream> stream, const MqttServices& services,
                         const MqttOptions& options, transport::PendingSlot pending_slot)
    : services_(services), options_(options), stream_(std::move(stream)), executor_(stream_->executor()),
      timer_(executor_), pending_slot_(std::move(pending_slot)) {}

void MqttSession::Start() {
  last_received_ = std::chrono::steady_clock::now();
  timer_.expires_after(options_.handshake_timeout);
  timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (!ec && self->state_ < State::kConnected) self->Shutdown("no CONNECT in time", false, true);
  });
  DoHandshake();
}

void MqttSession::DoHandshake() {
  if (state_ != State::kHandshake) return;
  auto io = stream_->Handshake();
  if (io == Io::kDone) {
    state_ = State::kAwaitConnect;
    return DoRead();
  }
  if (io == Io::kWantRead || io == Io::kWantWrite) return WaitFor(io, &MqttSession::DoHandshake);
  Shutdown(std::string(stream_->kind()) + " handshake failed: " +
               (io == Io::kClosed ? "closed by the client" : stream_->error()),
           false, true);
}

void MqttSession::WaitFor(Io want, void (MqttSession::*next)()) {
  stream_->Wait(want, [self = shared_from_this(), next](const std::error_code& ec) {
    if (self->state_ == State::kClosed) return;
    if (ec) return self->Shutdown("socket wait failed: " + ec.message(), true, true);
    ((*self).*next)();
  });
}

void MqttSession::Close(std::string_view reason) {
  asio::post(executor_, [self = shared_from_this(), reason = std::string(reason)] {
    self->Shutdown(reason, true, true);
  });
}

bool MqttSession::SendMethodRequest(const std::string& method_name, const std::string& request_id,
                                    const std::string& payload_json) {
  if (!device_->listens_for_methods()) return false;
  asio::post(executor_, [self = shared_from_this(), topic = MethodRequestTopic(method_name, request_id),
                         payload_json] {
    if (self->state_ == State::kConnected) self->Send(Publish{topic, payload_json, 0, false, false, 0});
  });
  return true;
}

void MqttSession::CloudToDeviceWaiting() {
  asio::post(executor_, [self = shared_from_this()] { self->DeliverCloudToDevice(); });
}

void MqttSession::DeliverCloudToDevice() {
  if (state_ != State::kConnected) return;
  auto feed = subscriptions_.find(Feed::kCloudToDevice);
  if (feed == subscriptions_.end()) return;
  try {
    for (const CloudToDeviceDelivery& d : device_->LeaseCloudToDevice()) {
      // Sending may have ended the connection: the rest go straight back to the queue.
      if (state_ != State::kConnected) {
        device_->ReleaseCloudToDevice(d.lock_token);
        continue;
      }
      Publish p{CloudToDeviceTopic(d.message), d.message.body, feed->second, false, false, 0};
      if (p.qos == 1) {
        do {
          ++next_packet_id_;
        } while (next_packet_id_ == 0 || c2d_in_flight_.count(next_packet_id_));
        p.packet_id = next_packet_id_;
        c2d_in_flight_[p.packet_id] = d.lock_token;
      }
      Send(p);
      // At QoS 0 there is no acknowledgement to wait for: sent is done.
      if (p.qos == 0) (void)device_->SettleCloudToDevice(d.lock_token, DeviceSession::Settlement::kComplete);
    }
  } catch (const std::exception& e) {
    spdlog::error("MQTT {}: delivering its cloud-to-device messages failed: {}", client_id_, e.what());
  }
}

void MqttSession::HandlePuback(uint16_t packet_id) {
  auto it = c2d_in_flight_.find(packet_id);
  if (it == c2d_in_flight_.end()) return;
  // A PUBACK completes the message (MQTT has no reject or abandon; spec §2.5). Past its
  // lock (a minute) it is lost, as on IoT Hub, and the message will come again.
  (void)device_->SettleCloudToDevice(it->second, DeviceSession::Settlement::kComplete);
  c2d_in_flight_.erase(it);
}

void MqttSession::SendDesiredPropertiesPatch(int64_t version, const std::string& patch_json) {
  asio::post(executor_, [self = shared_from_this(), version, patch_json] {
    if (self->state_ != State::kConnected) return;
    // Only while connected and subscribed, as IoT Hub (spec §2.7): a device GETs the twin after reconnecting.
    if (!self->device_->Listens(Feed::kDesiredProperties)) return;
    self->Send(Publish{DesiredPropertiesTopic(version), patch_json, 0, false, false, 0});
  });
}

bool MqttSession::HandleTwinRequest(const Publish& p) {
  auto request = ParseTwinRequestTopic(p.topic);
  if (!request) return false;
  TwinReply reply = request->get ? device_->GetTwin() : device_->PatchReportedProperties(p.payload);
  if (!device_->Listens(Feed::kTwinResponses)) return true;  // the device did not ask to hear them
  // The status in the topic; a failure also in the body, which the SDKs read (spec §3.4).
  Send(Publish{TwinResponseTopic(reply.status, request->request_id, reply.version), std::move(reply.body), 0, false,
               false, 0});
  return true;
}

bool MqttSession::HandleMethodResponse(const Publish& p) {
  auto response = ParseMethodResponseTopic(p.topic);
  if (!response) return false;
  device_->CompleteMethod(response->request_id, response->status, p.payload);
  return true;
}

void MqttSession::DoRead() {
  if (reading_ || state_ >= State::kClosing) return;
  // Telemetry not yet committed holds memory: past the limit, stop reading
  // until commits catch up, which pushes back on the client through TCP.
  if (device_ && device_->in_flight() >= options_.max_in_flight) return;
  reading_ = true;
  if (stream_->HasBufferedInput()) {
    return asio::post(executor_, [self = shared_from_this()] { self->OnReadable(); });
  }
  WaitFor(Io::kWantRead, &MqttSession::OnReadable);
}

void MqttSession::OnReadable() {
  reading_ = false;
  if (state_ >= State::kClosing) return;
  char buffer[16384];
  size_t total = 0;
  // Why the stream ended, when it did. What arrived before the end is still
  // processed first, in order: a last PUBLISH, or the DISCONNECT that drops the will.
  std::optional<std::string> ended;
  bool want_write = false;
  // Take what is there (up to a bound, so one busy device cannot hog the thread).
  while (total < 4 * sizeof buffer) {
    size_t n = 0;
    auto io = stream_->Read(buffer, sizeof buffer, &n);
    if (io == Io::kWantRead) break;
    if (io == Io::kWantWrite) {  // TLS needs to send before it can read
      want_write = true;
      break;
    }
    if (io == Io::kClosed) ended = "connection closed by the client";
    if (io == Io::kFailed) ended = std::string(stream_->kind()) + " read failed: " + stream_->error();
    if (ended) break;
    rx_.append(buffer, n);
    total += n;
  }
  if (total > 0) {
    last_received_ = std::chrono::steady_clock::now();
    ProcessInput();
  }
  // After a DISCONNECT in that input the session is already closing without its will.
  if (ended) return Shutdown(*ended, true, true);
  if (want_write && state_ < State::kClosing) {
    reading_ = true;
    return WaitFor(Io::kWantWrite, &MqttSession::OnReadable);
  }
  DoRead();
}

void MqttSession::ProcessInput() {
  // The largest packet: the biggest message plus a topic of up to 64 KiB and headers.
  // Before sign-in only a CONNECT may come, and what a stranger can make us hold stays small.
  size_t start = 0;
  while (state_ == State::kAwaitConnect || state_ == State::kConnected) {
    const size_t max_packet =
        state_ == State::kConnected ? options_.max_message_bytes + 65536 + 16 : options_.max_connect_bytes;
    auto result = Decode(std::string_view(rx_).substr(start), max_packet);
    if (auto* malformed = std::get_if<Malformed>(&result)) {
      Shutdown("malformed MQTT packet: " + malformed->reason, true, true);
      break;
    }
    if (std::holds_alternative<NeedMore>(result)) break;
    auto& decoded = std::get<Decoded>(result);
    start += decoded.consumed;
    Handle(std::move(decoded.packet));
  }
  rx_.erase(0, start);
  if (rx_.empty() && rx_.capacity() > 64 * 1024) rx_.shrink_to_fit();  // idle connections stay small
}

void MqttSession::Handle(Packet packet) {
  if (auto* connect = std::get_if<Connect>(&packet)) return HandleConnect(*connect);
  if (state_ != State::kConnected) return Shutdown("the first packet was not CONNECT", false, true);
  if (auto* publish = std::get_if<Publish>(&packet)) return HandlePublish(*publish);
  if (auto* subscribe = std::get_if<Subscribe>(&packet)) return HandleSubscribe(*subscribe);
  if (auto* unsubscribe = std::get_if<Unsubscribe>(&packet)) return HandleUnsubscribe(*unsubscribe);
  if (std::holds_alternative<Pingreq>(packet)) return Send(Pingresp{});
  if (auto* puback = std::get_if<Puback>(&packet)) return HandlePuback(puback->packet_id);
  if (std::holds_alternative<Disconnect>(packet)) return Shutdown("the client disconnected", false);
  Shutdown("unexpected packet from a client", true, true);
}

void MqttSession::RefuseConnect(ConnectReturnCode code, const std::string& why) {
  spdlog::info("MQTT {} refused (CONNACK {}): {}", stream_->peer(), static_cast<int>(code), why);
  Send(Connack{false, code});
  Shutdown(why, false);
}

void MqttSession::HandleConnect(Connect& c) {
  if (state_ != State::kAwaitConnect) return Shutdown("a second CONNECT", true, true);
  if (c.protocol_name != "MQTT" || c.protocol_level != 4) {
    return RefuseConnect(ConnectReturnCode::kUnacceptableProtocolVersion, "IoT Hub speaks MQTT 3.1.1 only");
  }
  if (c.client_id.empty()) return RefuseConnect(ConnectReturnCode::kIdentifierRejected, "empty client id");
  if (!c.username || !c.password) {
    return RefuseConnect(ConnectReturnCode::kBadUserNameOrPassword,
                         "a user name {host}/{deviceId}/?api-version=... and a SAS token as password are required");
  }
  auto username = ParseUsername(*c.username);
  if (!username) {
    return RefuseConnect(ConnectReturnCode::kBadUserNameOrPassword, "malformed user name '" + *c.username + "'");
  }
  if (ClientIdOf(*username) != c.client_id) {
    return RefuseConnect(ConnectReturnCode::kNotAuthorized,
                         "client id '" + c.client_id + "' is not the identity in the user name");
  }
  if (!services_.sas.IsOwnHost(username->host)) {
    return RefuseConnect(ConnectReturnCode::kNotAuthorized, "user name host '" + username->host + "' is not this hub");
  }
  auto device = services_.authenticator.Authenticate(username->device_id, username->module_id, *c.password);
  if (!device.ok()) return RefuseConnect(ConnectReturnCode::kNotAuthorized, device.status().message());

  client_id_ = c.client_id;
  device_ = std::make_unique<DeviceSession>(
      services_.device, ConnectionInfo{std::move(device).value(), username->model_id, username->module_id},
      /*lasting=*/!c.clean_session);
  connection_ = &device_->connection();
  token_expiry_ = Clock::time_point(std::chrono::seconds(connection_->device.token_expiry));
  if (c.keep_alive_seconds > 0) {
    keep_alive_allowance_ = std::min(kMaxKeepAliveAllowance, std::chrono::seconds(c.keep_alive_seconds * 3 / 2));
  }
  if (c.will) {
    // Only the device's telemetry topic takes a will; core stores it as telemetry marked as a will (spec §2.2).
    auto topic = ParseTelemetryTopic(c.will->topic, connection_->device.device_id);
    if (topic && topic->ok()) {
      TelemetryMessage message = std::move(topic->value().message);
      message.body = std::move(c.will->payload);
      device_->SetWill(std::move(message));
    } else {
      spdlog::warn("MQTT {}: ignoring will on '{}': only the device's telemetry topic takes one", client_id_,
                   c.will->topic);
    }
  }

  // Attaching ends the device's previous connection, of whatever protocol.
  auto session_present = device_->Open(shared_from_this());
  if (!session_present.ok()) {
    return RefuseConnect(ConnectReturnCode::kServerUnavailable, session_present.status().message());
  }
  for (Feed feed : device_->subscriptions()) subscriptions_[feed] = RestoredQos(feed);

  state_ = State::kConnected;
  pending_slot_.reset();  // signed in: no longer counts against the strangers' allowance
  Send(Connack{*session_present, ConnectReturnCode::kAccepted});
  spdlog::info("MQTT {} connected from {} ({}, keep-alive {} s, clean session {})", client_id_, stream_->peer(),
               stream_->kind(), c.keep_alive_seconds, c.clean_session);
  ArmTimer();
  DeliverCloudToDevice();  // messages queued while it was away, on a subscription it kept
}

void MqttSession::HandlePublish(Publish& p) {
  if (p.qos == 2) return Shutdown("QoS 2 is not supported by IoT Hub", true, true);
  if (p.payload.size() > options_.max_message_bytes) {
    return Shutdown("message of " + std::to_string(p.payload.size()) + " bytes exceeds the limit of " +
                        std::to_string(options_.max_message_bytes),
                    true, true);
  }
  if (HandleMethodResponse(p) || HandleTwinRequest(p)) {
    if (p.qos == 1) Send(Puback{p.packet_id});  // a QoS 1 client waits for it, whatever the topic
    return;
  }
  auto telemetry = ParseTelemetryTopic(p.topic, connection_->device.device_id);
  if (!telemetry) return Shutdown("publishing to '" + p.topic + "' is not allowed", true, true);
  if (!telemetry->ok()) return Shutdown(telemetry->status().message() + " in '" + p.topic + "'", true, true);

  TelemetryMessage message = std::move(telemetry->value().message);
  message.body = std::move(p.payload);
  // IoT Hub stores no retained messages; it marks them instead (spec §2.5).
  if (p.retain) message.application_properties.emplace_back("mqtt-retain", "true");
  SendTelemetry(std::move(message), p.qos, p.packet_id);
}

void MqttSession::SendTelemetry(TelemetryMessage message, uint8_t qos, uint16_t packet_id) {
  device_->SendTelemetry(std::move(message), [self = shared_from_this(), qos, packet_id](const Status& status) {
    asio::post(self->executor_, [self, qos, packet_id, status] {
      if (!status.ok()) return self->Shutdown(status.message(), false, true);
      if (qos == 1) self->Send(Puback{packet_id});
      self->DoRead();  // in case reading paused at the in-flight limit
    });
  });
}

void MqttSession::HandleSubscribe(const Subscribe& s) {
  Suback ack{s.packet_id, {}};
  Subscriptions feeds;
  for (const auto& [filter, qos] : s.filters) {
    auto feed = FeedOfFilter(filter, connection_->device.device_id);
    // IoT Hub disconnects rather than refusing one filter (spec §2.5).
    if (!feed) return Shutdown("subscribing to '" + filter + "' is not allowed", true, true);
    uint8_t granted = std::min<uint8_t>(qos, 1);
    subscriptions_[*feed] = granted;
    feeds.insert(*feed);
    ack.return_codes.push_back(granted);
  }
  if (auto stored = device_->Subscribe(feeds); !stored.ok()) return Shutdown(stored.message(), true, true);
  Send(ack);
  DeliverCloudToDevice();
}

void MqttSession::HandleUnsubscribe(const Unsubscribe& u) {
  Subscriptions feeds;
  for (const auto& filter : u.filters) {
    if (auto feed = FeedOfFilter(filter, connection_->device.device_id)) {
      subscriptions_.erase(*feed);
      feeds.insert(*feed);
    }
  }
  if (auto stored = device_->Unsubscribe(feeds); !stored.ok()) return Shutdown(stored.message(), true, true);
  Send(Unsuback{u.packet_id});
}

void MqttSession::Send(const Packet& packet) {
  if (state_ == State::kClosed) return;
  std::string bytes = Encode(packet);
  tx_bytes_ += bytes.size();
  tx_.push_back(std::move(bytes));
  if (tx_bytes_ > kMaxQueuedBytes) return Shutdown("the client does not read what it is sent", false, true);
  DoWrite();
}

void MqttSession::DoWrite() {
  if (writing_ || state_ == State::kClosed) return;
  while (!tx_.empty()) {
    const std::string& front = tx_.front();
    size_t n = 0;
    auto io = stream_->Write(front.data() + tx_offset_, front.size() - tx_offset_, &n);
    if (io == Io::kWantWrite || io == Io::kWantRead) {
      // Resumes writing once the stream can take more (or, for TLS, has what it needs).
      writing_ = true;
      return stream_->Wait(io, [self = shared_from_this()](const std::error_code& ec) {
        self->writing_ = false;
        if (self->state_ == State::kClosed) return;
        if (ec) return self->Shutdown("socket wait failed: " + ec.message(), true, true);
        self->DoWrite();
      });
    }
    if (io != Io::kDone) {
      return Shutdown(std::string(stream_->kind()) + " write failed: " + stream_->error(), true, true);
    }
    tx_offset_ += n;
    if (tx_offset_ == front.size()) {
      tx_bytes_ -= front.size();
      tx_.erase(tx_.begin());
      tx_offset_ = 0;
    }
  }
  if (state_ == State::kClosing) CloseSocket();
}

void MqttSession::ArmTimer() {
  if (state_ != State::kConnected) return;
  auto now_steady = std::chrono::steady_clock::now();
  auto token_left = token_expiry_ - Clock::now();
  auto deadline = now_steady + std::chrono::duration_cast<std::chrono::steady_clock::duration>(token_left);
  if (keep_alive_allowance_.count() > 0) deadline = std::min(deadline, last_received_ + keep_alive_allowance_);
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (!ec) self->OnTimer();
  });
}

void MqttSession::OnTimer() {
  if (state_ != State::kConnected) return;
  if (Clock::now() >= token_expiry_) return Shutdown("its SAS token expired", true, true);
  if (keep_alive_allowance_.count() > 0 &&
      std::chrono::steady_clock::now() - last_received_ >= keep_alive_allowance_) {
    return Shutdown("keep-alive timeout: nothing received for " + std::to_string(keep_alive_allowance_.count()) + " s",
                    true, true);
  }
  ArmTimer();
}

void MqttSession::Shutdown(const std::string& reason, bool publish_will, bool now) {
  if (state_ == State::kClosed || (state_ == State::kClosing && !now)) return;
  const bool was_connected = state_ == State::kConnected;
  state_ = State::kClosing;
  if (was_connected) {
    spdlog::info("MQTT {} disconnected: {}", client_id_, reason);
    device_->End(publish_will ? DeviceSession::Ending::kUnclean : DeviceSession::Ending::kClean);
    c2d_in_flight_.clear();  // the device session gave them back to the queue
  } else {
    spdlog::debug("MQTT {} closed: {}", stream_->peer(), reason);
  }
  if (now || tx_.empty()) return CloseSocket();
  // Let the last packets (a refusing CONNACK) go out, but not for long.
  timer_.expires_after(kCloseGrace);
  timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (!ec) self->CloseSocket();
  });
}

void MqttSession::CloseSocket() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  pending_slot_.reset();
  timer_.cancel();
  stream_->Close();
  tx_.clear();
  rx_.clear();
}

}  // namespace iothub::mqtt
