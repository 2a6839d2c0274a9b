#include "event_hub_monitor.h"

#include <proton/codec/encoder.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/map.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/sender.hpp>
#include <proton/source_options.hpp>
#include <proton/target_options.hpp>
#include <proton/timestamp.hpp>
#include <proton/transport.hpp>
#include <proton/types.hpp>
#include <proton/work_queue.hpp>

#include <charconv>
#include <chrono>
#include <map>
#include <vector>

#include "amqp_client.h"
#include "core/time_format.h"
#include "hub_api.h"
#include "iothub/sas_token.h"

namespace iothub::cli {
namespace {

using nlohmann::json;

// The selector filter Event Hubs readers attach with (spec §6.4), for `from`.
std::string SelectorFor(const std::string& from) {
  if (from == "earliest") return "amqp.annotation.x-opt-offset > '-1'";
  if (from == "latest") return "amqp.annotation.x-opt-offset > '@latest'";
  int64_t sequence = 0;
  auto [end, ec] = std::from_chars(from.data(), from.data() + from.size(), sequence);
  if (ec == std::errc() && end == from.data() + from.size()) {
    return "amqp.annotation.x-opt-sequence-number >= '" + std::to_string(sequence) + "'";
  }
  auto time = ParseIso8601(from);
  if (!time) throw CliError(kUsage, "--from takes earliest, latest, a sequence number or an ISO 8601 time");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time->time_since_epoch()).count();
  return "amqp.annotation.x-opt-enqueued-time >= '" + std::to_string(ms) + "'";
}

std::string Text(const proton::value& v) {
  switch (v.type()) {
    case proton::STRING: return proton::get<std::string>(v);
    case proton::SYMBOL: return proton::get<proton::symbol>(v);
    case proton::BINARY: {
      proton::binary b = proton::get<proton::binary>(v);
      return std::string(b.begin(), b.end());
    }
    case proton::TIMESTAMP:
      return FormatIso8601(TimePoint(std::chrono::milliseconds(proton::get<proton::timestamp>(v).milliseconds())));
    case proton::NULL_TYPE: return "";
    default: return proton::to_string(v);
  }
}

// An event as the emulator's stream shows it (README, "The event log").
json ToStreamJson(const proton::message& m, int partition) {
  json e;
  e["partition"] = partition;
  json annotations = json::object();
  for (const auto& [key, value] : proton::get<std::map<proton::annotation_key, proton::value>>(
           proton::value(m.message_annotations()))) {
    const std::string name = proton::to_string(key);
    if (name == "x-opt-sequence-number") e["sequenceNumber"] = proton::get<int64_t>(value);
    else if (name == "x-opt-offset") e["offset"] = std::stoll(Text(value));
    else if (name == "x-opt-enqueued-time") e["enqueuedTimeUtc"] = Text(value);
    else annotations[name] = Text(value);
  }
  e["annotations"] = annotations;
  const std::string body = Text(m.body());
  json parsed = json::parse(body, nullptr, false);
  e["body"] = parsed.is_discarded() ? json(body) : parsed;
  json properties = json::object();
  if (!m.id().empty()) properties["messageId"] = proton::to_string(m.id());
  if (!m.correlation_id().empty()) properties["correlationId"] = proton::to_string(m.correlation_id());
  if (!m.user().empty()) properties["userId"] = m.user();
  if (!m.content_type().empty()) properties["contentType"] = m.content_type();
  if (!m.content_encoding().empty()) properties["contentEncoding"] = m.content_encoding();
  e["properties"] = properties;
  json application = json::object();
  for (const auto& [key, value] : proton::get<std::map<std::string, proton::scalar>>(proton::value(m.properties()))) {
    application[key] = proton::to_string(value);
  }
  e["applicationProperties"] = application;
  return e;
}

class Monitor : public proton::messaging_handler {
 public:
  Monitor(const EventHubMonitorOptions& o, const std::function<bool(const json&)>& on_event,
          const std::function<bool()>& interrupted)
      : o_(o), on_event_(on_event), interrupted_(interrupted) {}

  const std::string& failure() const { return failure_; }
  ExitCode failure_code() const { return failure_code_; }

  void on_container_start(proton::container& c) override {
    proton::connection_options opts;
    // The bare policy name: the hub's name is not in a host name like localhost, and the redirect tells it.
    opts.user(o_.policy).password(Password());
    opts.sasl_allowed_mechs("PLAIN").sasl_allow_insecure_mechs(true);
    connection_ = ConnectToHub(c, opts, o_.host, o_.port, o_.tls, o_.ca_file);
    start_ = std::chrono::steady_clock::now();
    Tick(c);
  }

  void on_connection_open(proton::connection& c) override {
    lookup_ = c.open_receiver("messages/events/$management");
  }

  void on_receiver_error(proton::receiver& r) override { Detached(r); }
  void on_receiver_close(proton::receiver& r) override { Detached(r); }

  void on_sendable(proton::sender& s) override {
    if (s != management_ || asked_) return;
    proton::message request;
    request.id(proton::message_id(std::string("partitions")));
    request.reply_to("iothub-monitor-management");
    request.properties().put("operation", "READ");
    request.properties().put("name", entity_);
    request.properties().put("type", "com.microsoft:eventhub");
    request.body(std::string("[]"));
    s.send(request);
    asked_ = true;
  }

  void on_message(proton::delivery& d, proton::message& m) override {
    if (stopped_) return;  // the rest of a batch that arrived with the last event wanted
    proton::receiver r = d.receiver();
    if (r == management_replies_) return OpenPartitions(r.connection(), m);
    auto p = partitions_.find(r.name());
    if (p == partitions_.end()) return;
    json event = ToStreamJson(m, p->second);
    if (!o_.device_id.empty() && event["annotations"].value("iothub-connection-device-id", "") != o_.device_id) return;
    if (!on_event_(event)) Stop();
  }

  void on_transport_error(proton::transport& t) override {
    if (!failure_.empty()) return;
    if (t.error().name() == "amqp:unauthorized-access") {
      return Fail(kUnauthorized, "the hub refused the sign-in of '" + o_.policy + "': " + t.error().description());
    }
    Fail(kUnreachable, "cannot reach the hub's AMQP port: " + t.error().what());
  }
  void on_connection_error(proton::connection& c) override {
    const std::string why = c.error().what();
    Fail(why.find("unauthorized") != std::string::npos || why.find("auth") != std::string::npos ? kUnauthorized
                                                                                                 : kFailed,
         "the hub closed the connection: " + why);
  }

 private:
  std::string Password() const {
    return client::MakeSasToken(o_.host + "/messages/events", o_.key, TokenExpiry(), o_.policy);
  }

  // The lookup link ends with the redirect that names the entity; any other end is a failure.
  void Detached(proton::receiver& r) {
    const proton::error_condition error = r.error();
    if (r == lookup_ && !entity_.empty()) return;  // told already (the error, then the close)
    if (r == lookup_ && error.name() == "amqp:link:redirect") {
      const auto info = proton::get<std::map<proton::symbol, proton::value>>(error.properties());
      auto address = info.find(proton::symbol("address"));
      if (address == info.end()) return Fail(kFailed, "the hub's redirect names no address");
      std::string path = Text(address->second);  // amqps://host:port/{entity}/$management
      path = path.substr(path.find("://") + 3);
      path = path.substr(path.find('/') + 1);
      entity_ = path.substr(0, path.find('/'));
      proton::connection c = r.connection();
      management_replies_ = c.open_receiver(entity_ + "/$management",
                                            proton::receiver_options().name("iothub-monitor-management"));
      management_ = c.open_sender(entity_ + "/$management");
      return;
    }
    if (!error.empty()) {
      Fail(error.name() == "amqp:unauthorized-access" ? kUnauthorized
                                                      : error.name() == "amqp:not-found" ? kNotFound : kFailed,
           error.name() + ": " + error.description());
    }
  }

  void OpenPartitions(proton::connection c, const proton::message& reply) {
    const int status = reply.properties().exists("status-code")
                           ? proton::get<int32_t>(reply.properties().get("status-code"))
                           : 0;
    if (status != 200) {
      return Fail(status == 401 ? kUnauthorized : kFailed,
                  "$management: " + Text(reply.properties().get("status-description")));
    }
    auto body = proton::get<std::map<std::string, proton::value>>(reply.body());
    std::vector<std::string> ids;
    proton::get(body.at("partition_ids"), ids);
    for (const std::string& id : ids) {
      const int p = std::stoi(id);
      if (o_.partition && *o_.partition != p) continue;
      proton::source::filter_map filters;
      proton::value selector;
      proton::codec::encoder enc(selector);
      enc << proton::codec::start::described() << proton::symbol("apache.org:selector-filter:string")
          << SelectorFor(o_.from) << proton::codec::finish();
      filters.put(proton::symbol("apache.org:selector-filter:string"), selector);
      const std::string name = "iothub-monitor-" + id;
      partitions_[name] = p;
      c.open_receiver(entity_ + "/ConsumerGroups/" + o_.consumer_group + "/Partitions/" + id,
                      proton::receiver_options().name(name).source(proton::source_options().filters(filters)));
    }
  }

  void Tick(proton::container& c) {
    const bool timed_out = o_.timeout_seconds > 0 &&
                           std::chrono::steady_clock::now() - start_ >= std::chrono::seconds(o_.timeout_seconds);
    if (stopped_) return;
    if (timed_out || interrupted_()) return Stop();
    c.schedule(proton::duration(200), [this, &c] { Tick(c); });
  }

  void Fail(ExitCode code, const std::string& why) {
    if (failure_.empty()) {
      failure_ = why;
      failure_code_ = code;
    }
    Stop();
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    if (connection_) connection_.close();
  }

  const EventHubMonitorOptions& o_;
  const std::function<bool(const json&)>& on_event_;
  const std::function<bool()>& interrupted_;
  proton::connection connection_;
  proton::receiver lookup_, management_replies_;
  proton::sender management_;
  std::string entity_;
  std::map<std::string, int> partitions_;  // receiver name -> partition
  bool asked_ = false;
  bool stopped_ = false;
  std::chrono::steady_clock::time_point start_;
  std::string failure_;
  ExitCode failure_code_ = kFailed;
};

}  // namespace

void MonitorEventHub(const EventHubMonitorOptions& options, const std::function<bool(const json&)>& on_event,
                     const std::function<bool()>& interrupted) {
  Monitor monitor(options, on_event, interrupted);
  proton::container container(monitor);
  container.run();
  if (!monitor.failure().empty()) throw CliError(monitor.failure_code(), monitor.failure());
}

}  // namespace iothub::cli
