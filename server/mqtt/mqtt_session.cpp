#include "mqtt/mqtt_session.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "core/json_parse.h"
#include "mqtt/codec/mqtt_codec.h"
#include "mqtt/iothub_topics.h"

namespace iothub::mqtt {
namespace {

// IoT Hub allows 1.5 x the client's keep-alive, capped at 1767 s (spec §2.1).
constexpr std::chrono::seconds kMaxKeepAliveAllowance{1767};
constexpr size_t kMaxQueuedBytes = 4 * 1024 * 1024;  // a client that reads nothing is cut off
constexpr auto kCloseGrace = std::chrono::seconds(5);  // to flush a last CONNACK before closing

// A JSON string's inside; invalid UTF-8 becomes U+FFFD (this runs in error paths, where throwing is no answer).
std::string JsonEscape(const std::string& text) {
  std::string quoted = nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

std::string PeerOf(const asio::ip::tcp::socket& socket) {
  asio::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  return ec ? "unknown peer" : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

MqttSession::MqttSession(asio::ip::tcp::socket socket, SSL_CTX* tls, const MqttServices& services,
                         const MqttOptions& options, PendingSlot pending_slot)
    : services_(services), options_(options), socket_(std::move(socket)), executor_(socket_.get_executor()),
      timer_(executor_), pending_slot_(std::move(pending_slot)) {
  peer_ = PeerOf(socket_);
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket_.non_blocking(true, ignored);
  if (tls) tls_ = std::make_unique<tls::TlsChannel>(tls, socket_.native_handle());
}

void MqttSession::Start() {
  last_received_ = std::chrono::steady_clock::now();
  timer_.expires_after(options_.handshake_timeout);
  timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (!ec && self->state_ < State::kConnected) self->Shutdown("no CONNECT in time", false, true);
  });
  if (tls_) return DoHandshake();
  state_ = State::kAwaitConnect;
  DoRead();
}

void MqttSession::DoHandshake() {
  if (state_ != State::kHandshake) return;
  auto io = tls_->Handshake();
  if (io == tls::TlsChannel::Io::kDone) {
    state_ = State::kAwaitConnect;
    return DoRead();
  }
  if (io == tls::TlsChannel::Io::kWantRead || io == tls::TlsChannel::Io::kWantWrite) {
    return WaitFor(io, &MqttSession::DoHandshake);
  }
  Shutdown("TLS handshake failed: " + (io == tls::TlsChannel::Io::kClosed ? "closed by the client" : tls_->error()),
           false, true);
}

void MqttSession::WaitFor(tls::TlsChannel::Io want, void (MqttSession::*next)()) {
  auto type = want == tls::TlsChannel::Io::kWantWrite ? asio::socket_base::wait_write : asio::socket_base::wait_read;
  socket_.async_wait(type, [self = shared_from_this(), next](const asio::error_code& ec) {
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
  if (!listens_for_methods_) return false;
  asio::post(executor_, [self = shared_from_this(), topic = "$iothub/methods/POST/" + method_name + "/?$rid=" + request_id,
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
  const std::string& device_id = connection_->device.device_id;
  try {
    // Those already on their way are locked, so the lease leaves them out.
    for (const CloudToDeviceDelivery& d : services_.cloud_to_device.Lease(device_id, CloudToDevice::kMaxQueueDepth)) {
      // Sending may have ended the connection: the rest go straight back to the queue.
      if (state_ != State::kConnected) {
        services_.cloud_to_device.Release(device_id, d.lock_token);
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
      if (p.qos == 0) (void)services_.cloud_to_device.Complete(device_id, d.lock_token);
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
  (void)services_.cloud_to_device.Complete(connection_->device.device_id, it->second);
  c2d_in_flight_.erase(it);
}

void MqttSession::SendDesiredPropertiesPatch(int64_t version, const std::string& patch_json) {
  asio::post(executor_, [self = shared_from_this(), version, patch_json] {
    if (self->state_ != State::kConnected) return;
    // Only while connected and subscribed, as IoT Hub (spec §2.7): a device GETs the twin after reconnecting.
    if (!self->subscriptions_.count(Feed::kDesiredProperties)) return;
    self->Send(Publish{"$iothub/twin/PATCH/properties/desired/?$version=" + std::to_string(version), patch_json, 0,
                       false, false, 0});
  });
}

void MqttSession::SendTwinResponse(int status, const std::string& request_id, const std::string& extra_query,
                                   const std::string& body) {
  if (!subscriptions_.count(Feed::kTwinResponses)) return;  // the device did not ask to hear them
  Send(Publish{"$iothub/twin/res/" + std::to_string(status) + "/?$rid=" + request_id + extra_query, body, 0, false,
               false, 0});
}

bool MqttSession::HandleTwinRequest(const Publish& p) {
  constexpr std::string_view kGet = "$iothub/twin/GET/";
  constexpr std::string_view kReported = "$iothub/twin/PATCH/properties/reported/";
  std::string_view topic = p.topic;
  const bool get = topic.starts_with(kGet);
  if (!get && !topic.starts_with(kReported)) return false;
  size_t rid_at = topic.find("$rid=");
  if (rid_at == std::string_view::npos) return false;
  std::string rid(topic.substr(rid_at + 5, topic.find('&', rid_at) - rid_at - 5));

  const std::string& device_id = connection_->device.device_id;
  // Failures go back as a body with errorCode, which the SDKs turn into an error (spec §3.4).
  auto fail = [&](const Status& s) {
    SendTwinResponse(ErrorCodeNumber(s.code()) / 1000, rid, "",
                     R"({"errorCode":)" + std::to_string(ErrorCodeNumber(s.code())) + R"(,"message":")" +
                         JsonEscape(s.message()) + R"("})");
  };
  try {
    if (get) {
      auto view = services_.twins.DeviceView(device_id);
      if (!view.ok()) return fail(view.status()), true;
      SendTwinResponse(200, rid, "", view->dump());
    } else {
      auto patch = ParseJsonValue(p.payload, "The reported-properties patch");
      if (!patch.ok()) return fail(patch.status()), true;
      auto version = services_.twins.PatchReported(device_id, *patch);
      if (!version.ok()) return fail(version.status()), true;
      SendTwinResponse(204, rid, "&$version=" + std::to_string(*version), "");
    }
  } catch (const std::exception& e) {
    fail(Status::ServerError(e.what()));
  }
  return true;
}

bool MqttSession::SubscriptionsChanged() {
  listens_for_methods_ = subscriptions_.count(Feed::kMethods) > 0;
  if (!clean_session_) {
    try {
      services_.subscriptions.Save(client_id_, subscriptions_);  // a lasting session outlives this connection
    } catch (const std::exception& e) {
      Shutdown(std::string("session store failed: ") + e.what(), true, true);
      return false;
    }
  }
  // A method call waiting for this device to listen (its connect timeout) can go now.
  if (listens_for_methods_) services_.connections.MethodsSubscribed(connection_->device.device_id);
  return true;
}

bool MqttSession::HandleMethodResponse(const Publish& p) {
  constexpr std::string_view kPrefix = "$iothub/methods/res/";
  std::string_view topic = p.topic;
  if (!topic.starts_with(kPrefix)) return false;
  topic.remove_prefix(kPrefix.size());
  size_t slash = topic.find('/');
  size_t rid_at = topic.find("$rid=");
  if (slash == std::string_view::npos || rid_at == std::string_view::npos) return false;
  int status = 0;
  auto [end, ec] = std::from_chars(topic.data(), topic.data() + slash, status);
  if (ec != std::errc() || end != topic.data() + slash) return false;
  std::string_view rid = topic.substr(rid_at + 5);
  rid = rid.substr(0, rid.find('&'));
  services_.methods.Complete(connection_->device.device_id, std::string(rid), status, p.payload);
  return true;
}

void MqttSession::DoRead() {
  if (reading_ || state_ >= State::kClosing) return;
  // Telemetry not yet committed holds memory: past the limit, stop reading
  // until commits catch up, which pushes back on the client through TCP.
  if (in_flight_ >= options_.max_in_flight) return;
  reading_ = true;
  if (tls_ && tls_->HasBufferedInput()) {
    return asio::post(executor_, [self = shared_from_this()] { self->OnReadable(); });
  }
  WaitFor(tls::TlsChannel::Io::kWantRead, &MqttSession::OnReadable);
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
    if (tls_) {
      auto io = tls_->Read(buffer, sizeof buffer, &n);
      if (io == tls::TlsChannel::Io::kWantRead) break;
      if (io == tls::TlsChannel::Io::kWantWrite) {  // TLS needs to send before it can read
        want_write = true;
        break;
      }
      if (io == tls::TlsChannel::Io::kClosed) ended = "connection closed by the client";
      if (io == tls::TlsChannel::Io::kFailed) ended = "TLS read failed: " + tls_->error();
    } else {
      asio::error_code ec;
      n = socket_.read_some(asio::buffer(buffer), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec == asio::error::eof) ended = "connection closed by the client";
      else if (ec) ended = "read failed: " + ec.message();
    }
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
    return WaitFor(tls::TlsChannel::Io::kWantWrite, &MqttSession::OnReadable);
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
  spdlog::info("MQTT {} refused (CONNACK {}): {}", peer_, static_cast<int>(code), why);
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
  connection_ = ConnectionInfo{std::move(device).value(), username->model_id};
  token_expiry_ = Clock::time_point(std::chrono::seconds(connection_->device.token_expiry));
  clean_session_ = c.clean_session;
  if (c.keep_alive_seconds > 0) {
    keep_alive_allowance_ = std::min(kMaxKeepAliveAllowance, std::chrono::seconds(c.keep_alive_seconds * 3 / 2));
  }
  if (c.will) {
    if (ParseTelemetryTopic(c.will->topic, connection_->device.device_id)) {
      will_ = std::move(c.will);
    } else {
      spdlog::warn("MQTT {}: ignoring will on '{}': only the device's telemetry topic takes one", client_id_,
                   c.will->topic);
    }
  }

  bool session_present = false;
  try {
    if (clean_session_) {
      services_.subscriptions.Save(client_id_, {});
    } else {
      subscriptions_ = services_.subscriptions.Load(client_id_);
      session_present = !subscriptions_.empty();
      listens_for_methods_ = subscriptions_.count(Feed::kMethods) > 0;
    }
  } catch (const std::exception& e) {
    return RefuseConnect(ConnectReturnCode::kServerUnavailable, std::string("session store failed: ") + e.what());
  }

  state_ = State::kConnected;
  pending_slot_.reset();  // signed in: no longer counts against the strangers' allowance
  services_.connections.Attach(connection_->device.device_id, shared_from_this());
  Send(Connack{session_present, ConnectReturnCode::kAccepted});
  spdlog::info("MQTT {} connected from {} ({}, keep-alive {} s, clean session {})", client_id_, peer_,
               tls_ ? "TLS" : "plain TCP", c.keep_alive_seconds,
               clean_session_);
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
  AppendTelemetry(std::move(message), p.qos, p.packet_id, "Telemetry");
}

void MqttSession::AppendTelemetry(TelemetryMessage message, uint8_t qos, uint16_t packet_id, const char* source) {
  Event event = MakeTelemetryEvent(*connection_, std::move(message), source);
  ++in_flight_;
  services_.event_log.Append(std::move(event), [self = shared_from_this(), qos, packet_id](const Status& status) {
    asio::post(self->executor_, [self, qos, packet_id, status] {
      --self->in_flight_;
      if (!status.ok()) return self->Shutdown(status.message(), false, true);
      if (qos == 1) self->Send(Puback{packet_id});
      self->DoRead();  // in case reading paused at the in-flight limit
    });
  });
  auto now = std::chrono::steady_clock::now();
  if (now - last_activity_noted_ > std::chrono::seconds(1)) {
    last_activity_noted_ = now;
    services_.connections.NoteActivity(connection_->device.device_id);
  }
}

void MqttSession::HandleSubscribe(const Subscribe& s) {
  Suback ack{s.packet_id, {}};
  for (const auto& [filter, qos] : s.filters) {
    auto feed = FeedOfFilter(filter, connection_->device.device_id);
    // IoT Hub disconnects rather than refusing one filter (spec §2.5).
    if (!feed) return Shutdown("subscribing to '" + filter + "' is not allowed", true, true);
    uint8_t granted = std::min<uint8_t>(qos, 1);
    subscriptions_[*feed] = granted;
    ack.return_codes.push_back(granted);
  }
  if (!SubscriptionsChanged()) return;
  Send(ack);
  DeliverCloudToDevice();
}

void MqttSession::HandleUnsubscribe(const Unsubscribe& u) {
  for (const auto& filter : u.filters) {
    if (auto feed = FeedOfFilter(filter, connection_->device.device_id)) subscriptions_.erase(*feed);
  }
  if (!SubscriptionsChanged()) return;
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
  // Resumes writing once the socket can take more (or, for TLS, has what it needs).
  auto wait_then_write = [this](asio::socket_base::wait_type type) {
    writing_ = true;
    socket_.async_wait(type, [self = shared_from_this()](const asio::error_code& ec) {
      self->writing_ = false;
      if (self->state_ == State::kClosed) return;
      if (ec) return self->Shutdown("socket wait failed: " + ec.message(), true, true);
      self->DoWrite();
    });
  };
  while (!tx_.empty()) {
    const std::string& front = tx_.front();
    size_t n = 0;
    if (tls_) {
      auto io = tls_->Write(front.data() + tx_offset_, front.size() - tx_offset_, &n);
      if (io == tls::TlsChannel::Io::kWantWrite) return wait_then_write(asio::socket_base::wait_write);
      if (io == tls::TlsChannel::Io::kWantRead) return wait_then_write(asio::socket_base::wait_read);
      if (io != tls::TlsChannel::Io::kDone) return Shutdown("TLS write failed: " + tls_->error(), true, true);
    } else {
      asio::error_code ec;
      n = socket_.write_some(asio::buffer(front.data() + tx_offset_, front.size() - tx_offset_), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        return wait_then_write(asio::socket_base::wait_write);
      }
      if (ec) return Shutdown("write failed: " + ec.message(), true, true);
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
    services_.connections.Detach(connection_->device.device_id, this);
    // Messages sent but not acknowledged go back to the queue at once, the delivery not
    // counted: the device had no way to settle them (spec §2.6 counts explicit abandons).
    try {
      for (const auto& [packet_id, lock_token] : c2d_in_flight_) {
        services_.cloud_to_device.Release(connection_->device.device_id, lock_token);
      }
    } catch (const std::exception& e) {
      spdlog::error("MQTT {}: returning its unacknowledged cloud-to-device messages failed: {}", client_id_, e.what());
    }
    c2d_in_flight_.clear();
    if (publish_will && will_) {
      // Stored as telemetry marked as a will (spec §2.2).
      if (auto topic = ParseTelemetryTopic(will_->topic, connection_->device.device_id); topic && topic->ok()) {
        TelemetryMessage message = std::move(topic->value().message);
        message.body = std::move(will_->payload);
        message.application_properties.emplace_back("iothub-MessageType", "Will");
        AppendTelemetry(std::move(message), 0, 0, "Telemetry");
      }
    }
    will_.reset();
  } else {
    spdlog::debug("MQTT {} closed: {}", peer_, reason);
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
  if (tls_) tls_->Close();
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  tx_.clear();
  rx_.clear();
}

}  // namespace iothub::mqtt
