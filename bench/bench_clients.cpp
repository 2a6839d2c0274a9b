#include "bench_clients.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace bench {

using namespace std::chrono_literals;

Publisher::Publisher(const Emulator& hub, const std::string& device_id, int inflight)
    : topic_("devices/" + device_id + "/messages/events/") {
  m_ = mosquitto_new(device_id.c_str(), true, this);
  mosquitto_int_option(m_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_int_option(m_, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_max_inflight_messages_set(m_, inflight);
  auto [user, password] = DeviceCredentials(device_id);
  mosquitto_username_pw_set(m_, user.c_str(), password.c_str());
  mosquitto_tls_set(m_, hub.ca().c_str(), nullptr, nullptr, nullptr, nullptr);
  mosquitto_connect_callback_set(m_, [](mosquitto*, void* self, int rc) {
    static_cast<Publisher*>(self)->Signal([&](Publisher& p) { p.connected_ = rc == 0; });
  });
  mosquitto_publish_callback_set(m_, [](mosquitto*, void* self, int mid) {
    static_cast<Publisher*>(self)->Signal([&](Publisher& p) {
      ++p.acked_;
      p.last_mid_ = mid;
    });
  });
  if (mosquitto_connect(m_, "127.0.0.1", hub.mqtt_port, 600) != MOSQ_ERR_SUCCESS) throw std::runtime_error("connect failed");
  mosquitto_loop_start(m_);
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, 10s, [&] { return connected_; })) throw std::runtime_error("the device was not accepted");
}

Publisher::~Publisher() {
  mosquitto_disconnect(m_);
  mosquitto_loop_stop(m_, false);
  mosquitto_destroy(m_);
}

double Publisher::Send(int n, const std::string& payload) {
  const int64_t target = Acked() + n;
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    mosquitto_publish(m_, nullptr, topic_.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false);
  }
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, 600s, [&] { return acked_ >= target; })) throw std::runtime_error("PUBACKs missing");
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void Publisher::SendOne(const std::string& message_id, const std::string& payload) {
  const std::string topic = topic_ + "%24.mid=" + message_id;
  int mid = 0;
  mosquitto_publish(m_, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false);
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, 10s, [&] { return last_mid_ == mid; });
}

int64_t Publisher::Acked() {
  std::lock_guard lock(mu_);
  return acked_;
}

template <class F>
void Publisher::Signal(F f) {
  std::lock_guard lock(mu_);
  f(*this);
  cv_.notify_all();
}

StreamReader::StreamReader(const Emulator& hub, const std::string& from, bool record)
    : client_("localhost", hub.https_port), record_(record) {
  client_.set_ca_cert_path(hub.ca().c_str());
  client_.enable_server_certificate_verification(true);
  client_.set_read_timeout(60s);
  thread_ = std::thread([this, from] {
    client_.Get("/emulator/events/stream?from=" + from, {{"Authorization", ServiceToken()}},
                [this](const char* data, size_t n) { return OnData(data, n); });
  });
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, 10s, [&] { return open_; })) throw std::runtime_error("the event stream did not open");
}

StreamReader::~StreamReader() {
  stop_ = true;
  client_.stop();
  thread_.join();
}

std::optional<Clock::time_point> StreamReader::WaitFor(int64_t count, std::chrono::seconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return events_ >= count; })) return std::nullopt;
  return reached_;
}

std::optional<Clock::time_point> StreamReader::ArrivalOf(const std::string& message_id, std::chrono::seconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return arrived_.count(message_id) > 0; })) return std::nullopt;
  return arrived_[message_id];
}

int64_t StreamReader::events() {
  std::lock_guard lock(mu_);
  return events_;
}

bool StreamReader::OnData(const char* data, size_t n) {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  open_ = true;
  buffer_.append(data, n);
  // Whole frames only; a frame ends with an empty line.
  size_t start = 0, end;
  while ((end = buffer_.find("\n\n", start)) != std::string::npos) {
    std::string_view frame(buffer_.data() + start, end - start);
    start = end + 2;
    const size_t at = frame.find("data: ");
    if (at == std::string_view::npos) continue;
    ++events_;
    reached_ = now;
    if (record_) {
      auto e = nlohmann::json::parse(frame.substr(at + 6));
      if (e["properties"].contains("messageId")) arrived_[e["properties"]["messageId"].get<std::string>()] = now;
    }
  }
  buffer_.erase(0, start);
  cv_.notify_all();
  return !stop_;
}

}  // namespace bench
