#include "iothub/device_client.h"

#include <mosquitto.h>

#include <cctype>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "iothub/sas_token.h"
#include "url_encode.h"

namespace iothub::client {
namespace {

using SteadyClock = std::chrono::steady_clock;


int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct LibraryInit {
  LibraryInit() { mosquitto_lib_init(); }
};

}  // namespace

std::string TelemetryTopic(const std::string& device_id, const Message& m) {
  std::string bag;
  auto add = [&bag](const std::string& key, const std::string& value) {
    if (value.empty()) return;
    bag += (bag.empty() ? "" : "&") + detail::UrlEncode(key) + "=" + detail::UrlEncode(value);
  };
  add("$.mid", m.message_id);
  add("$.cid", m.correlation_id);
  add("$.ct", m.content_type);
  add("$.ce", m.content_encoding);
  for (const auto& [k, v] : m.properties) bag += (bag.empty() ? "" : "&") + detail::UrlEncode(k) + "=" + detail::UrlEncode(v);
  return "devices/" + device_id + "/messages/events/" + bag;
}

struct DeviceClient::Impl {
  struct Pending {
    Message message;
    SendCallback done;
    int mid = -1;  // the MQTT message id on the current connection; -1 = not sent on it yet
  };

  DeviceConnectionString connection;
  DeviceClientOptions options;

  // Recursive: libmosquitto reports a QoS 0 publish as done from inside mosquitto_publish,
  // which the worker calls while holding it.
  mutable std::recursive_mutex mu;
  std::condition_variable_any cv;
  std::deque<Pending> queue;  // guarded by mu, in send order
  bool connected = false;     // guarded by mu
  bool closing = false;       // guarded by mu
  SteadyClock::time_point close_deadline;
  std::function<void(const ConnectionStatus&)> on_status;  // guarded by mu
  std::thread worker;

  // Set before Open(); called on the worker thread.
  std::function<MethodResponse(const std::string&, const std::string&)> on_method;
  std::function<void(const ReceivedMessage&)> on_message;
  std::function<void(const std::string&)> on_desired;

  struct TwinRequest {
    std::string topic, payload;
    bool sent = false;
    std::optional<std::pair<int, std::string>> answer;  // status, body
  };
  std::map<std::string, TwinRequest> twin_requests;  // by request id; guarded by mu
  uint64_t next_request_id = 1;                      // guarded by mu

  // Worker thread only.
  mosquitto* mosq = nullptr;
  int connack = -1;
  bool lost = false;
  int64_t token_expiry = 0;
  std::mt19937 random{std::random_device{}()};

  void Report(bool is_connected, const std::string& reason) {
    std::function<void(const ConnectionStatus&)> callback;
    {
      std::lock_guard lock(mu);
      connected = is_connected;
      callback = on_status;
    }
    cv.notify_all();
    if (callback) callback({is_connected, reason});
  }

  std::string Token() {
    if (connection.shared_access_signature) {
      token_expiry = SasTokenExpiry(*connection.shared_access_signature).value_or(INT64_MAX);
      return *connection.shared_access_signature;
    }
    token_expiry = UnixNow() + options.token_lifetime.count();
    return MakeSasToken(connection.host_name + "/devices/" + connection.device_id, *connection.shared_access_key,
                        token_expiry, connection.shared_access_key_name);
  }

  // One connection attempt: TCP, TLS, CONNECT, CONNACK. True when accepted.
  bool Connect() {
    mosq = mosquitto_new(connection.device_id.c_str(), true, this);
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
    const std::string username = connection.host_name + "/" + connection.device_id +
                                 "/?api-version=2021-04-12&DeviceClientType=" + detail::UrlEncode("iothub-emulator-cpp/0.1");
    mosquitto_username_pw_set(mosq, username.c_str(), Token().c_str());
    if (options.ca_file.empty()) {
      mosquitto_tls_set(mosq, nullptr, "/etc/ssl/certs", nullptr, nullptr, nullptr);
    } else {
      mosquitto_tls_set(mosq, options.ca_file.c_str(), nullptr, nullptr, nullptr, nullptr);
    }
    mosquitto_connect_callback_set(mosq, [](mosquitto*, void* self, int rc) { static_cast<Impl*>(self)->connack = rc; });
    mosquitto_disconnect_callback_set(mosq, [](mosquitto*, void* self, int) { static_cast<Impl*>(self)->lost = true; });
    mosquitto_publish_callback_set(mosq, [](mosquitto*, void* self, int mid) { static_cast<Impl*>(self)->Acknowledged(mid); });
    mosquitto_message_callback_set(mosq, [](mosquitto*, void* self, const mosquitto_message* m) {
      static_cast<Impl*>(self)->Received(m->topic, std::string(static_cast<const char*>(m->payload), m->payloadlen));
    });

    connack = -1;
    lost = false;
    auto [host, port] = SplitHostPort(connection.gateway_host_name.value_or(connection.host_name), options.default_port);
    int rc = mosquitto_connect(mosq, host.c_str(), port, options.keep_alive_seconds);
    if (rc != MOSQ_ERR_SUCCESS) {
      Report(false, "cannot connect to " + host + ":" + std::to_string(port) + ": " +
                        (rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(errno)) : mosquitto_strerror(rc)));
      return false;
    }
    auto deadline = SteadyClock::now() + std::chrono::seconds(10);
    while (connack < 0 && !lost && SteadyClock::now() < deadline) {
      if (mosquitto_loop(mosq, 100, 1) != MOSQ_ERR_SUCCESS) break;
    }
    if (connack != 0) {
      Report(false, connack > 0 ? std::string("refused: ") + mosquitto_connack_string(connack)
                                : std::string("no CONNACK from the hub"));
      return false;
    }
    // A new connection each time (CleanSession=1): subscribe to what the handlers want.
    if (on_method) mosquitto_subscribe(mosq, nullptr, "$iothub/methods/POST/#", 0);
    if (on_message) {
      mosquitto_subscribe(mosq, nullptr, ("devices/" + connection.device_id + "/messages/devicebound/#").c_str(), 1);
    }
    mosquitto_subscribe(mosq, nullptr, "$iothub/twin/res/#", 0);
    if (on_desired) mosquitto_subscribe(mosq, nullptr, "$iothub/twin/PATCH/properties/desired/#", 0);
    Report(true, "connected");
    return true;
  }

  // Everything the hub sends the device: method calls, C2D messages, twin answers and changes.
  void Received(const std::string& topic, const std::string& payload) {
    auto rid_of = [&topic] {
      size_t at = topic.find("$rid=");
      return at == std::string::npos ? std::string() : topic.substr(at + 5, topic.find('&', at) - at - 5);
    };
    const std::string methods = "$iothub/methods/POST/", twin_res = "$iothub/twin/res/",
                      desired = "$iothub/twin/PATCH/properties/desired/",
                      c2d = "devices/" + connection.device_id + "/messages/devicebound/";
    if (topic.rfind(methods, 0) == 0 && on_method) {
      std::string name = topic.substr(methods.size(), topic.find('/', methods.size()) - methods.size());
      MethodResponse r = on_method(name, payload.empty() ? "null" : payload);
      std::string reply = "$iothub/methods/res/" + std::to_string(r.status) + "/?$rid=" + rid_of();
      mosquitto_publish(mosq, nullptr, reply.c_str(), static_cast<int>(r.payload_json.size()), r.payload_json.data(), 0,
                        false);
    } else if (topic.rfind(c2d, 0) == 0 && on_message) {
      ReceivedMessage m{payload, {}, {}, {}};
      std::string bag = topic.substr(c2d.size());
      for (size_t start = 0; start < bag.size();) {
        size_t amp = bag.find('&', start);
        std::string pair = bag.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
        start = amp == std::string::npos ? bag.size() : amp + 1;
        size_t eq = pair.find('=');
        std::string key = detail::UrlDecode(pair.substr(0, eq));
        std::string value = eq == std::string::npos ? "" : detail::UrlDecode(pair.substr(eq + 1));
        if (key == "$.mid") {
          m.message_id = value;
        } else if (key == "$.cid") {
          m.correlation_id = value;
        } else if (!key.starts_with("$.")) {
          m.properties.emplace_back(key, value);
        }
      }
      on_message(m);
    } else if (topic.rfind(twin_res, 0) == 0) {
      int status = std::atoi(topic.c_str() + twin_res.size());
      {
        std::lock_guard lock(mu);
        auto it = twin_requests.find(rid_of());
        if (it != twin_requests.end()) it->second.answer = std::make_pair(status, payload);
      }
      cv.notify_all();
    } else if (topic.rfind(desired, 0) == 0 && on_desired) {
      on_desired(payload);
    }
  }

  // Sends a twin request through the worker and waits for its answer.
  std::optional<std::pair<int, std::string>> TwinCall(const std::string& topic_prefix, const std::string& payload,
                                                      std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    const std::string rid = std::to_string(next_request_id++);
    twin_requests[rid] = {topic_prefix + "?$rid=" + rid, payload, false, std::nullopt};
    cv.notify_all();
    cv.wait_for(lock, timeout, [&] { return twin_requests[rid].answer.has_value(); });
    auto answer = twin_requests[rid].answer;
    twin_requests.erase(rid);
    return answer;
  }

  void Acknowledged(int mid) {
    SendCallback done;
    {
      std::lock_guard lock(mu);
      for (auto it = queue.begin(); it != queue.end(); ++it) {
        if (it->mid == mid) {
          done = std::move(it->done);
          queue.erase(it);
          break;
        }
      }
    }
    cv.notify_all();
    if (done) done(true);
  }

  // Serves one connection until it is lost, its token needs renewing, or the client closes.
  void Serve() {
    const int64_t renew_at = token_expiry - std::max<int64_t>(60, options.token_lifetime.count() / 4);
    while (true) {
      {
        std::lock_guard lock(mu);
        if (closing && (queue.empty() || SteadyClock::now() > close_deadline)) return;
        for (auto& [rid, request] : twin_requests) {
          if (request.sent) continue;
          mosquitto_publish(mosq, nullptr, request.topic.c_str(), static_cast<int>(request.payload.size()),
                            request.payload.data(), 0, false);
          request.sent = true;
        }
        for (Pending& p : queue) {
          if (p.mid >= 0) continue;
          const std::string topic = TelemetryTopic(connection.device_id, p.message);
          mosquitto_publish(mosq, &p.mid, topic.c_str(), static_cast<int>(p.message.body.size()),
                            p.message.body.data(), 1, false);
        }
      }
      if (mosquitto_loop(mosq, 50, 1) != MOSQ_ERR_SUCCESS || lost) {
        Report(false, "connection lost");
        return;
      }
      if (!connection.shared_access_signature && UnixNow() >= renew_at) {
        Report(false, "renewing the SAS token");
        return;
      }
    }
  }

  void Disconnect() {
    if (!mosq) return;
    mosquitto_disconnect(mosq);
    mosquitto_loop(mosq, 10, 1);
    mosquitto_destroy(mosq);
    mosq = nullptr;
    std::lock_guard lock(mu);
    for (Pending& p : queue) p.mid = -1;  // unacknowledged: send again on the next connection
    for (auto& [rid, request] : twin_requests) request.sent = false;
  }

  void Run() {
    auto backoff = options.initial_backoff;
    while (true) {
      {
        std::lock_guard lock(mu);
        if (closing && (queue.empty() || SteadyClock::now() > close_deadline)) break;
      }
      bool ok = Connect();
      if (ok) {
        backoff = options.initial_backoff;
        Serve();
      }
      Disconnect();
      if (ok) continue;
      // Exponential back-off with jitter, so that many devices do not retry in step.
      std::uniform_real_distribution<double> jitter(0.5, 1.0);
      auto wait = std::chrono::milliseconds(static_cast<int64_t>(backoff.count() * jitter(random)));
      backoff = std::min(options.max_backoff, backoff * 2);
      std::unique_lock lock(mu);
      cv.wait_for(lock, wait, [this] { return closing && (queue.empty() || SteadyClock::now() > close_deadline); });
    }
    std::deque<Pending> abandoned;
    {
      std::lock_guard lock(mu);
      abandoned.swap(queue);
      connected = false;
    }
    for (Pending& p : abandoned) {
      if (p.done) p.done(false);
    }
  }
};

DeviceClient::DeviceClient(DeviceConnectionString connection, DeviceClientOptions options)
    : impl_(std::make_unique<Impl>()) {
  static LibraryInit init;
  if (!connection.shared_access_key && !connection.shared_access_signature) {
    throw std::invalid_argument("the device connection string needs SharedAccessKey or SharedAccessSignature");
  }
  impl_->connection = std::move(connection);
  impl_->options = std::move(options);
}

DeviceClient::~DeviceClient() { Close(); }

void DeviceClient::Open() {
  if (impl_->worker.joinable()) return;
  impl_->worker = std::thread([impl = impl_.get()] { impl->Run(); });
}

bool DeviceClient::WaitConnected(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [this] { return impl_->connected; });
}

void DeviceClient::SendEvent(Message message, SendCallback done) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->queue.push_back({std::move(message), std::move(done), -1});
  }
  impl_->cv.notify_all();
}

size_t DeviceClient::pending() const {
  std::lock_guard lock(impl_->mu);
  return impl_->queue.size();
}

void DeviceClient::OnConnectionStatus(std::function<void(const ConnectionStatus&)> callback) {
  std::lock_guard lock(impl_->mu);
  impl_->on_status = std::move(callback);
}

void DeviceClient::OnMethod(std::function<MethodResponse(const std::string&, const std::string&)> handler) {
  impl_->on_method = std::move(handler);
}

void DeviceClient::OnMessage(std::function<void(const ReceivedMessage&)> handler) { impl_->on_message = std::move(handler); }

void DeviceClient::OnDesiredProperties(std::function<void(const std::string&)> handler) {
  impl_->on_desired = std::move(handler);
}

std::optional<std::string> DeviceClient::GetTwin(std::chrono::milliseconds timeout) {
  auto answer = impl_->TwinCall("$iothub/twin/GET/", " ", timeout);
  if (!answer || answer->first != 200) return std::nullopt;
  return answer->second;
}

bool DeviceClient::UpdateReportedProperties(const std::string& patch_json, std::chrono::milliseconds timeout) {
  auto answer = impl_->TwinCall("$iothub/twin/PATCH/properties/reported/", patch_json, timeout);
  return answer && answer->first == 204;
}

void DeviceClient::Close() {
  if (!impl_->worker.joinable()) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->closing = true;
    impl_->close_deadline = SteadyClock::now() + impl_->options.close_timeout;
  }
  impl_->cv.notify_all();
  impl_->worker.join();
}

}  // namespace iothub::client
