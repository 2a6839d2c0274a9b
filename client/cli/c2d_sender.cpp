#include "c2d_sender.h"

#include <proton/condition.h>
#include <proton/delivery.h>
#include <proton/disposition.h>

#include <proton/binary.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/sender.hpp>
#include <proton/ssl.hpp>
#include <proton/timestamp.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/work_queue.hpp>

#include <chrono>

#include "core/url_encoding.h"
#include "hub_api.h"
#include "iothub/sas_token.h"

namespace iothub::cli {
namespace {

// The condition the hub rejected a delivery with (Proton's C++ tracker does not say it).
class RejectedTracker : public proton::tracker {
 public:
  explicit RejectedTracker(const proton::tracker& t) : proton::tracker(t) {}
  std::pair<std::string, std::string> Condition() const {
    pn_condition_t* c = pn_disposition_condition(pn_delivery_remote(pn_object()));
    const char* name = c ? pn_condition_get_name(c) : nullptr;
    const char* description = c ? pn_condition_get_description(c) : nullptr;
    return {name ? name : "", description ? description : ""};
  }
};

ExitCode CodeOf(const std::string& condition) {
  if (condition == "amqp:unauthorized-access") return kUnauthorized;
  if (condition == "amqp:not-found") return kNotFound;
  return kFailed;
}

class Sender : public proton::messaging_handler {
 public:
  explicit Sender(const CloudToDeviceSendOptions& o) : o_(o) {}

  const std::string& failure() const { return failure_; }
  ExitCode failure_code() const { return failure_code_; }
  bool accepted() const { return accepted_; }

  void on_container_start(proton::container& c) override {
    proton::connection_options opts;
    opts.sasl_enabled(false);  // as the service SDK: a bare AMQP header, then $cbs
    opts.virtual_host(o_.host);
    if (o_.tls) opts.ssl_client_options(proton::ssl_client_options(o_.ca_file, proton::ssl::VERIFY_PEER_NAME));
    const std::string url = std::string(o_.tls ? "amqps://" : "amqp://") + o_.host + ":" + std::to_string(o_.port);
    connection_ = c.connect(url, opts);
    start_ = std::chrono::steady_clock::now();
    Tick(c);
  }

  void on_connection_open(proton::connection& c) override {
    cbs_replies_ = c.open_receiver("$cbs", proton::receiver_options().name("cbs"));
    cbs_ = c.open_sender("$cbs");
  }

  void on_sendable(proton::sender& s) override {
    if (s == cbs_ && !token_put_) {
      const auto expiry = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count() + 3600;
      proton::message put;
      put.to("$cbs");
      put.id(std::string("put-token"));
      put.reply_to("cbs");
      put.properties().put("operation", "put-token");
      put.properties().put("type", "servicebus.windows.net:sastoken");
      put.properties().put("name", o_.host_name);
      put.body(client::MakeSasToken(o_.host_name, o_.key, expiry, o_.policy));
      s.send(put);
      token_put_ = true;
    } else if (s == devicebound_ && !sent_) {
      s.send(Message());
      sent_ = true;
    }
  }

  void on_message(proton::delivery& d, proton::message& m) override {
    if (d.receiver() != cbs_replies_ || devicebound_) return;
    const int status = m.properties().exists("status-code") ? proton::get<int32_t>(m.properties().get("status-code")) : 0;
    if (status != 200) {
      const std::string why = m.properties().exists("status-description")
                                  ? proton::to_string(m.properties().get("status-description"))
                                  : "status " + std::to_string(status);
      return Fail(status == 401 ? kUnauthorized : kFailed, "the hub refused the token of '" + o_.policy + "': " + why);
    }
    devicebound_ = d.connection().open_sender("/messages/devicebound");
  }

  // The put-token request is accepted too: only the message's outcome counts.
  void on_tracker_accept(proton::tracker& t) override {
    if (t.sender() != devicebound_) return;
    accepted_ = true;
    Stop();
  }
  void on_tracker_reject(proton::tracker& t) override {
    if (t.sender() != devicebound_) return Fail(kFailed, "the hub refused the put-token request");
    auto [condition, description] = RejectedTracker(t).Condition();
    Fail(CodeOf(condition), "the hub refused the message: " + condition + ": " + description);
  }
  void on_tracker_release(proton::tracker&) override { Fail(kFailed, "the hub released the message unqueued"); }

  void on_sender_error(proton::sender& s) override {
    Fail(CodeOf(s.error().name()), "the hub closed the link: " + s.error().name() + ": " + s.error().description());
  }
  void on_transport_error(proton::transport& t) override {
    if (done_) return;
    Fail(kUnreachable, "cannot reach the hub's AMQP port " + std::to_string(o_.port) + ": " + t.error().what());
  }
  void on_connection_error(proton::connection& c) override {
    Fail(CodeOf(c.error().name()), "the hub closed the connection: " + c.error().what());
  }

 private:
  proton::message Message() const {
    proton::message m;
    m.to("/devices/" + UrlEncodeComponent(o_.device_id) + "/messages/devicebound");
    if (!o_.message_id.empty()) m.id(o_.message_id);
    if (!o_.correlation_id.empty()) m.correlation_id(o_.correlation_id);
    if (!o_.content_type.empty()) m.content_type(o_.content_type);
    if (o_.ttl_seconds > 0) {
      const auto expiry = std::chrono::system_clock::now() + std::chrono::seconds(o_.ttl_seconds);
      m.expiry_time(proton::timestamp(
          std::chrono::duration_cast<std::chrono::milliseconds>(expiry.time_since_epoch()).count()));
    }
    m.properties().put("iothub-ack", o_.ack.empty() ? "none" : o_.ack);
    for (const auto& [k, v] : o_.properties) m.properties().put(k, v);
    m.body(proton::binary(o_.body));
    m.inferred(true);  // a data section, as the SDK sends
    return m;
  }

  // A pending timer keeps the container running: ticks stop once the send is done.
  void Tick(proton::container& c) {
    if (done_) return;
    if (std::chrono::steady_clock::now() - start_ >= std::chrono::seconds(o_.timeout_seconds)) {
      return Fail(kUnreachable, "the hub did not answer within " + std::to_string(o_.timeout_seconds) + " s");
    }
    c.schedule(proton::duration(200), [this, &c] { Tick(c); });
  }

  void Fail(ExitCode code, const std::string& why) {
    if (failure_.empty() && !accepted_) {
      failure_ = why;
      failure_code_ = code;
    }
    Stop();
  }

  void Stop() {
    if (done_) return;
    done_ = true;
    if (connection_) connection_.close();
  }

  const CloudToDeviceSendOptions& o_;
  proton::connection connection_;
  proton::receiver cbs_replies_;
  proton::sender cbs_, devicebound_;
  bool token_put_ = false;
  bool sent_ = false;
  bool accepted_ = false;
  bool done_ = false;
  std::chrono::steady_clock::time_point start_;
  std::string failure_;
  ExitCode failure_code_ = kFailed;
};

}  // namespace

void SendCloudToDeviceOverAmqp(const CloudToDeviceSendOptions& options) {
  Sender sender(options);
  proton::container container(sender);
  container.run();
  if (!sender.failure().empty()) throw CliError(sender.failure_code(), sender.failure());
  if (!sender.accepted()) throw CliError(kFailed, "the connection ended before the hub answered");
}

}  // namespace iothub::cli
