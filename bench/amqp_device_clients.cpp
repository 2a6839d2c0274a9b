#include "amqp_device_clients.h"

#include <proton/connection_options.hpp>
#include <proton/error_condition.hpp>
#include <proton/receiver_options.hpp>
#include <proton/sender_options.hpp>
#include <proton/source_options.hpp>
#include <proton/ssl.hpp>
#include <proton/types.hpp>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/sas_token.h"

namespace bench {

using namespace std::chrono_literals;

ProtonClients::ProtonClients(int threads) : container_("amqp-device-bench") {
  container_.auto_stop(false);  // stays up between phases, with no connection open
  thread_ = std::thread([this, threads] { container_.run(threads); });
}

ProtonClients::~ProtonClients() {
  container_.stop();
  thread_.join();
}

AmqpTarget::AmqpTarget(int port, const std::string& ca)
    : port(port), tls(std::make_shared<proton::ssl_client_options>(ca, proton::ssl::VERIFY_PEER_NAME)) {}

AmqpClient::AmqpClient(ProtonClients& clients, const AmqpTarget& target, SignIn sign_in, std::string user,
                       std::string token, std::string audience)
    : clients_(clients),
      target_(target),
      sign_in_(sign_in),
      user_(std::move(user)),
      token_(std::move(token)),
      audience_(std::move(audience)) {}

AmqpClient::~AmqpClient() { Shutdown(); }

void AmqpClient::Shutdown() {
  Close();
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, 10s, [&] { return finished_ || !started_; });
}

void AmqpClient::Start() {
  proton::connection_options opts;
  opts.handler(*this);
  opts.virtual_host("localhost");  // the OPEN hostname, SNI and the certificate's name; the socket is 127.0.0.1
  opts.ssl_client_options(*target_.tls);
  opts.sasl_enabled(true);
  if (sign_in_ == SignIn::kPlain) {
    opts.user(user_).password(token_).sasl_allowed_mechs("PLAIN");
  } else {
    opts.sasl_allowed_mechs("ANONYMOUS");  // what rhea does with no user name (the SDKs), then $cbs
  }
  {
    std::lock_guard lock(mu_);
    started_ = true;
  }
  clients_.container().connect("amqps://127.0.0.1:" + std::to_string(target_.port), opts);
}

bool AmqpClient::WaitReady(std::chrono::seconds timeout) {
  return WaitFor(timeout, [&] { return ready_; });
}

std::string AmqpClient::error() {
  std::lock_guard lock(mu_);
  return error_;
}

void AmqpClient::Close() {
  Post([this] {
    closing_ = true;
    connection_.close();
  });
}

void AmqpClient::MarkReady() {
  Locked([&] { ready_ = true; });
}

void AmqpClient::Fail(const std::string& why) {
  if (closing_) return;
  Locked([&] {
    if (error_.empty()) error_ = why;
  });
}

void AmqpClient::Post(std::function<void()> f) {
  // Held while adding: the connection (and its queue) lives until on_transport_close has returned.
  std::lock_guard lock(mu_);
  if (queue_ && !finished_) queue_->add(std::move(f));
}

void AmqpClient::on_connection_open(proton::connection& c) {
  connection_ = c;
  {
    std::lock_guard lock(mu_);
    queue_ = &c.work_queue();
  }
  if (sign_in_ == SignIn::kPlain) return OnSignedIn(c);
  // The device SDK's CBS exchange (azure-iot-amqp-base amqp_cbs.js): a sender to $cbs, a receiver from
  // $cbs, the put-token request with reply_to "cbs", the answer's status-code.
  proton::sender cbs = c.open_sender("$cbs");
  cbs_replies_ = c.open_receiver("$cbs", proton::receiver_options().name("cbs"));
  proton::message put;
  put.to("$cbs");
  put.id(std::string("put-token-1"));
  put.reply_to("cbs");
  put.properties().put("operation", "put-token");
  put.properties().put("type", "servicebus.windows.net:sastoken");
  put.properties().put("name", audience_);
  put.body(token_);
  cbs.send(put);  // Proton holds it until the hub gives the link credit
}

void AmqpClient::on_message(proton::delivery& d, proton::message& m) {
  if (d.receiver() != cbs_replies_) return OnMessage(d, m);
  int status = 0;
  if (m.properties().exists("status-code")) status = proton::coerce<int>(m.properties().get("status-code"));
  if (status < 200 || status > 299) {
    const std::string why = m.properties().exists("status-description")
                                ? proton::to_string(m.properties().get("status-description"))
                                : "";
    return Fail("put-token answered " + std::to_string(status) + " " + why);
  }
  proton::connection c = d.connection();
  OnSignedIn(c);
}

void AmqpClient::on_transport_error(proton::transport& t) { Fail("transport: " + t.error().what()); }
void AmqpClient::on_connection_error(proton::connection& c) { Fail("connection: " + c.error().what()); }
void AmqpClient::on_receiver_error(proton::receiver& r) { Fail("link " + r.name() + ": " + r.error().what()); }
void AmqpClient::on_sender_error(proton::sender& s) { Fail("link " + s.name() + ": " + s.error().what()); }
void AmqpClient::on_error(const proton::error_condition& e) { Fail(e.what()); }

void AmqpClient::on_transport_close(proton::transport&) {
  ReleaseHandles();
  connection_ = proton::connection();
  cbs_replies_ = proton::receiver();
  Locked([&] {
    finished_ = true;
    queue_ = nullptr;
    if (!closing_ && error_.empty()) error_ = "the connection ended";
  });
}

// ---------------------------------------------------------------------------------------------------------------

namespace {

std::string SasUser(const std::string& device_id, const std::string& hub_name) {
  return device_id + "@sas." + hub_name;
}

// The token's sr as it stands (URL-encoded): the audience the device SDK puts the token for.
std::string Audience(const std::string& token) {
  const size_t at = token.find("sr=") + 3;
  return token.substr(at, token.find('&', at) - at);
}

}  // namespace

AmqpDevice::AmqpDevice(ProtonClients& clients, const AmqpTarget& target, const std::string& device_id,
                       SignIn sign_in, Links links, std::function<void()> on_complete)
    : AmqpClient(clients, target, sign_in, SasUser(device_id, target.hub_name),
                 DeviceCredentials(device_id).second, Audience(DeviceCredentials(device_id).second)),
      id_(device_id),
      links_(links),
      on_complete_(std::move(on_complete)) {
  message_.to("/devices/" + id_ + "/messages/events");
  message_.inferred(true);  // a binary body goes as a data section, as the SDKs send telemetry
  Start();
}

void AmqpDevice::OnSignedIn(proton::connection& c) {
  if (links_.telemetry) telemetry_ = c.open_sender("/devices/" + id_ + "/messages/events");
  if (links_.c2d) {
    // The SDK settles C2D messages itself (complete = accept); 100 credits at a time, topped up by Proton.
    c.open_receiver("/devices/" + id_ + "/messages/devicebound",
                    proton::receiver_options().auto_accept(false).credit_window(100));
  }
  if (!links_.telemetry && !links_.c2d) MarkReady();
}

void AmqpDevice::on_receiver_open(proton::receiver& r) {
  if (r == cbs_replies_) return;
  receiver_open_ = true;
  if (!links_.telemetry || telemetry_.credit() > 0) MarkReady();
}

void AmqpDevice::on_sendable(proton::sender& s) {
  if (s != telemetry_) return;
  if (!links_.c2d || receiver_open_) MarkReady();
  Pump();
}

void AmqpDevice::Pump() {
  while (to_send_ > 0 && in_flight_ < window_ && telemetry_.credit() > 0) {
    telemetry_.send(message_);
    --to_send_;
    ++in_flight_;
  }
}

void AmqpDevice::Settled(bool accepted) {
  --in_flight_;
  Locked([&] {
    ++settled_;
    (accepted ? accepted_ : rejected_)++;
  });
  Pump();
}

void AmqpDevice::on_tracker_accept(proton::tracker&) { Settled(true); }
void AmqpDevice::on_tracker_reject(proton::tracker&) { Settled(false); }
void AmqpDevice::on_tracker_release(proton::tracker&) { Settled(false); }

void AmqpDevice::OnMessage(proton::delivery& d, proton::message&) {
  d.accept();  // complete
  ++completed_;
  if (on_complete_) on_complete_();
}

double AmqpDevice::Send(int n, const std::string& payload, int window) {
  int64_t target = 0;
  {
    std::lock_guard lock(mu_);
    target = settled_ + n;
  }
  const auto start = Clock::now();
  Post([this, n, payload, window] {
    message_.body(proton::binary(payload.begin(), payload.end()));
    window_ = window;
    to_send_ += n;
    Pump();
  });
  if (!WaitFor(600s, [&] { return settled_ >= target; })) {
    throw std::runtime_error("AMQP device " + id_ + ": dispositions missing (" + error() + ")");
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int64_t AmqpDevice::accepted() {
  std::lock_guard lock(mu_);
  return accepted_;
}

int64_t AmqpDevice::rejected() {
  std::lock_guard lock(mu_);
  return rejected_;
}

int64_t AmqpDevice::completed() { return completed_; }

// ---------------------------------------------------------------------------------------------------------------

AmqpService::AmqpService(ProtonClients& clients, const AmqpTarget& target)
    // The service SDK's token: sr = the host name, skn = the policy; put for the audience "localhost".
    : AmqpClient(clients, target, SignIn::kCbs, "", ServiceToken(), "localhost") {
  Start();
}

void AmqpService::OnSignedIn(proton::connection& c) {
  c2d_ = c.open_sender("/messages/devicebound");
  feedback_ = c.open_receiver("/messages/serviceBound/feedback");  // auto-accepts after on_message, as the SDK
}

void AmqpService::on_receiver_open(proton::receiver& r) {
  if (r != feedback_) return;
  receiver_open_ = true;
  if (sender_ready_) MarkReady();
}

void AmqpService::on_sendable(proton::sender& s) {
  if (s != c2d_) return;
  if (!sender_ready_ && receiver_open_) MarkReady();
  sender_ready_ = true;
  Pump();
}

void AmqpService::Pump() {
  proton::message m;
  m.to(device_address_);
  m.inferred(true);
  m.body(proton::binary(payload_.begin(), payload_.end()));
  m.properties().put("iothub-ack", "full");
  while (!backoff_ && sent_ < to_send_ && sent_ - completed_() < window_ && c2d_.credit() > 0) {
    m.id(std::string("c2d-") + std::to_string(next_id_++));
    c2d_.send(m);
    ++sent_;
  }
}

void AmqpService::StartSending(const std::string& device_id, int n, const std::string& payload, int window,
                               std::function<int64_t()> completed) {
  Post([this, device_id, n, payload, window, completed] {
    device_address_ = "/devices/" + device_id + "/messages/devicebound";
    payload_ = payload;
    window_ = window;
    completed_ = completed;
    to_send_ += n;
    Pump();
  });
}

void AmqpService::Wake() {
  Post([this] {
    backoff_ = false;
    Pump();
  });
}

void AmqpService::on_tracker_accept(proton::tracker&) {
  Locked([&] { ++accepted_; });
}

void AmqpService::on_tracker_reject(proton::tracker&) {
  // The hub refuses a 51st message waiting for one device (amqp:resource-limit-exceeded): its completions
  // lag the device's accepts. Sent again, as a back end that honours it would, after the next completion.
  // (Proton C++ does not expose the rejection's condition; PN_TRACE_FRM=1 shows it.)
  Locked([&] { ++rejected_; });
  --sent_;
  // Back off only while a completion is still to come: its Wake ends the wait. The device counts
  // a completion before it wakes us, so one counted after this check wakes us after it too.
  // (Backing off with none to come stalled a run now and then: the last Wake had already run.)
  backoff_ = sent_ - completed_() > 0;
  if (!backoff_) Pump();
}

void AmqpService::OnMessage(proton::delivery&, proton::message& m) {
  // The body: a JSON array of records (a data section, or a string).
  std::string body;
  if (m.body().type() == proton::BINARY) {
    const proton::binary b = proton::get<proton::binary>(m.body());
    body.assign(b.begin(), b.end());
  } else if (m.body().type() == proton::STRING) {
    body = proton::get<std::string>(m.body());
  }
  const nlohmann::json records = nlohmann::json::parse(body, nullptr, false);
  const auto now = Clock::now();
  Locked([&] {
    if (!records.is_array()) {
      if (first_reject_.empty()) first_reject_ = "a feedback message that is not a JSON array: " + body;
      return;
    }
    records_ += static_cast<int64_t>(records.size());
    for (const auto& r : records) {
      if (r.value("statusCode", "") == "Success") ++success_;
    }
    last_record_ = now;
  });
}

std::optional<Clock::time_point> AmqpService::WaitFeedback(int64_t n, int64_t records, std::chrono::seconds timeout) {
  if (!WaitFor(timeout, [&] { return accepted_ >= n && records_ >= records; })) return std::nullopt;
  std::lock_guard lock(mu_);
  return last_record_;
}

int64_t AmqpService::sent_accepted() {
  std::lock_guard lock(mu_);
  return accepted_;
}

int64_t AmqpService::sent_rejected() {
  std::lock_guard lock(mu_);
  return rejected_;
}

int64_t AmqpService::records() {
  std::lock_guard lock(mu_);
  return records_;
}

int64_t AmqpService::success_records() {
  std::lock_guard lock(mu_);
  return success_;
}

std::string AmqpService::first_reject() {
  std::lock_guard lock(mu_);
  return first_reject_;
}

}  // namespace bench
