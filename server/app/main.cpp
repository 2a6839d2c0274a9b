// iothub-emulator: wires configuration, storage, the domain and the listeners
// together, prints how to connect, and serves until SIGINT or SIGTERM.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include "app/config.h"
#include "app/connection_strings.h"
#include "app/port_check.h"
#include "app/seed.h"
#include "amqp/amqp_server.h"
#include "core/device_authenticator.h"
#include "core/cloud_to_device.h"
#include "core/cloud_to_device_feedback.h"
#include "core/consumer_groups.h"
#include "core/device_connections.h"
#include "core/direct_methods.h"
#include "core/event_log.h"
#include "core/partition_readers.h"
#include "core/registry.h"
#include "core/sas_authenticator.h"
#include "core/timers.h"
#include "core/twins.h"
#include "http/rest_server.h"
#include "mqtt/mqtt_server.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_cloud_to_device_store.h"
#include "storage/sqlite_consumer_group_store.h"
#include "storage/sqlite_device_store.h"
#include "storage/sqlite_twin_store.h"
#include "storage/sqlite_event_store.h"
#include "storage/sqlite_subscription_store.h"
#include "tls/dev_certificates.h"
#include "transport/event_loop.h"
#include "transport/tls_server_context.h"

namespace {

using namespace iothub;
namespace fs = std::filesystem;

constexpr int kFallbackHttpsPort = 8443;

tls::TlsMaterial LoadTls(const app::Config& c) {
  if (!c.tls_cert.empty()) return tls::LoadCertificateFiles(c.tls_cert, c.tls_key);
  if (c.in_memory) return tls::CreateInMemoryDevCertificates(c.AcceptedHostNames());
  return tls::LoadOrCreateDevCertificates(fs::path(c.data_dir) / "certs", c.AcceptedHostNames());
}

// Opens the HTTPS listener, falling back from the default 443 to 8443 when 443
// is privileged, so `make run` works for a normal user. Returns the bound port, 0 on failure.
int OpenHttps(http::RestServer& server, const app::Config& c) {
  int port = c.https_port;
  if (auto why = app::WhyCannotBind(c.https_bind, port, "--https-port")) {
    if (c.https_port_explicit) {
      spdlog::error("Cannot listen for HTTPS: {}", *why);
      return 0;
    }
    spdlog::warn("Cannot listen for HTTPS on the default port: {}", *why);
    spdlog::warn("Falling back to port {}. The Azure service SDKs (Registry, invokeDeviceMethod) and device HTTPS "
                 "always use 443 and will not reach this port; tools that take a port (our CLI, curl) will.",
                 kFallbackHttpsPort);
    port = kFallbackHttpsPort;
    if (auto why_fallback = app::WhyCannotBind(c.https_bind, port, "--https-port")) {
      spdlog::error("Cannot listen for HTTPS: {}", *why_fallback);
      return 0;
    }
  }
  if (auto why = server.Open(c.https_bind, port)) {
    spdlog::error("Cannot listen for HTTPS: {}", *why);
    return 0;
  }
  return port;
}

void PrintBanner(const app::Config& c, const AccessPolicies& policies, const tls::TlsMaterial& tls, int https_port,
                 const mqtt::MqttServer& mqtt, const amqp::AmqpServer& amqp, int partitions,
                 const ConsumerGroups& consumer_groups) {
  const std::string host = c.AdvertisedHostName();
  spdlog::info("IoT Hub Emulator '{}' is ready. HTTPS on {}:{}, MQTT over TLS on {}:{}{}", c.hub_name, c.https_bind,
               https_port, c.mqtt_bind, mqtt.tls_port(),
               mqtt.plain_port() ? fmt::format(", plain MQTT on {}:{}", c.mqtt_plain_bind, mqtt.plain_port()) : "");
  spdlog::info("AMQP over TLS on {}:{}{}", c.amqp_bind, amqp.tls_port(),
               amqp.plain_port() ? fmt::format(", plain AMQP on {}:{}", c.amqp_bind, amqp.plain_port()) : "");
  spdlog::info("Event log: {} partitions, events kept {} hours", partitions, c.retention_hours);
  spdlog::info("Registry: {}", c.in_memory ? "in memory (nothing is saved)" : (fs::path(c.data_dir) / "iothub.db").string());
  if (!tls.ca_path.empty()) {
    spdlog::info("Development CA: {}", fs::absolute(tls.ca_path).lexically_normal().string());
    spdlog::info("  trust it with NODE_EXTRA_CA_CERTS={} (Node.js), --cafile (mosquitto), or "
                 "client.setOptions({{ ca }}) (device SDK)", fs::absolute(tls.ca_path).lexically_normal().string());
  } else if (c.tls_cert.empty()) {
    spdlog::warn("The TLS certificates exist only in this process's memory: clients cannot verify them. "
                 "Pass --tls-cert/--tls-key, or run without --in-memory to keep a CA in the data directory.");
  }
  spdlog::info("Connection strings:");
  for (const AccessPolicy& p : policies.all()) spdlog::info("  {}", app::HubConnectionString(host, p));
  // What back ends read telemetry with (the Event Hubs SDKs, Azure Functions, az iot hub monitor-events).
  if (const AccessPolicy* service = policies.Find("service")) {
    std::vector<std::string> groups;
    for (const ConsumerGroup& g : consumer_groups.List()) groups.push_back(g.name);
    spdlog::info("Event Hub-compatible endpoint ('{}', consumer group{} {}):", c.hub_name, groups.size() > 1 ? "s" : "",
                 fmt::join(groups, ", "));
    spdlog::info("  Endpoint=sb://{}{}/;SharedAccessKeyName={};SharedAccessKey={};EntityPath={}", host,
                 amqp.tls_port() == 5671 ? "" : ":" + std::to_string(amqp.tls_port()), service->name,
                 service->primary_key, c.hub_name);
    if (amqp.plain_port()) {
      spdlog::info("  Endpoint=sb://{}:{}/;SharedAccessKeyName={};SharedAccessKey={};EntityPath={};"
                   "UseDevelopmentEmulator=true",
                   host, amqp.plain_port(), service->name, service->primary_key, c.hub_name);
    }
  }
}

// Every device connection is a file descriptor; the usual soft limit of 1024 would cap devices there.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int Run(const app::Config& c) {
  RaiseFileLimit();
  // Signals are taken by sigwait below, so block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  tls::TlsMaterial tls = LoadTls(c);
  if (c.generate_certs_only) {
    std::printf("%s\n%s\n", fs::absolute(tls.ca_path).c_str(),
                fs::absolute(tls.ca_path.parent_path() / "server.pem").c_str());
    return 0;
  }

  AccessPolicies policies = AccessPolicies::Defaults();
  for (const auto& [name, key] : c.policy_keys) {
    if (auto s = ValidateSymmetricKey("key of policy '" + name + "'", key); !s.ok()) {
      spdlog::error("{}", s.message());
      return 2;
    }
    policies.SetPrimaryKey(name, key);
  }

  std::string db_path = ":memory:";
  if (!c.in_memory) {
    fs::create_directories(c.data_dir);
    db_path = (fs::path(c.data_dir) / "iothub.db").string();
  }
  storage::SqliteDatabase db(db_path);
  // The event log writes on its own connection so that its commits do not
  // queue behind registry requests (WAL lets them overlap). An in-memory
  // database exists per connection, so there both share one.
  std::unique_ptr<storage::SqliteDatabase> events_db;
  if (!c.in_memory) events_db = std::make_unique<storage::SqliteDatabase>(db_path);
  storage::SqliteDeviceStore device_store(db);
  storage::SqliteSubscriptionStore subscription_store(db);
  storage::SqliteCloudToDeviceStore c2d_store(db);
  storage::SqliteTwinStore twin_store(db);
  storage::SqliteConsumerGroupStore consumer_group_store(db);
  storage::SqliteEventStore event_store(events_db ? *events_db : db);

  DeviceConnections connections(device_store);
  Registry registry(device_store, &connections);
  SasAuthenticator authenticator(policies, c.AcceptedHostNames(),
                                 [&registry](const std::string& id) { return registry.KeysOf(id); });
  DeviceAuthenticator device_authenticator(authenticator, registry);
  DirectMethods methods(registry, connections);
  CloudToDevice cloud_to_device(c2d_store, registry, connections);
  CloudToDeviceFeedback feedback(c2d_store);
  registry.SetMessageCounter([&cloud_to_device](const std::string& id) { return cloud_to_device.Count(id); });
  // Expired cloud-to-device messages leave their queues, with their feedback, even
  // for a device that never comes back. Declared in this order so that the timer
  // thread stops before what it runs is gone.
  std::function<void()> sweep_cloud_to_device;
  TimerThread maintenance;
  sweep_cloud_to_device = [&] {
    try {
      cloud_to_device.Sweep();
    } catch (const std::exception& e) {
      spdlog::warn("Expiring cloud-to-device messages failed: {}", e.what());
    }
    maintenance.After(std::chrono::seconds(10), sweep_cloud_to_device);
  };
  maintenance.After(std::chrono::seconds(10), sweep_cloud_to_device);
  Twins twins(twin_store, registry, connections);
  ConsumerGroups consumer_groups(consumer_group_store, c.consumer_groups);  // of the Event Hub-compatible endpoint
  registry.OnDeviceDeleted([&c2d_store](const std::string& id) { c2d_store.Purge(id); });
  registry.OnDeviceDeleted([&twin_store](const std::string& id) { twin_store.Remove(id); });
  if (!c.seed_file.empty()) {
    auto seeded = app::ApplySeedFile(c.seed_file, registry);
    if (!seeded.ok()) {
      spdlog::error("Seed: {}", seeded.status().message());
      return 2;
    }
    spdlog::info("Seed: {} devices from {}", *seeded, c.seed_file);
  }
  auto event_log = std::make_unique<EventLog>(
      event_store, EventLog::Options{c.partitions,
                                     std::chrono::seconds(static_cast<int64_t>(c.retention_hours * 3600)), 4096, {}});
  if (event_log->partition_count() != c.partitions) {
    spdlog::warn("The event log was created with {} partitions; --partitions {} applies only to a new data directory",
                 event_log->partition_count(), c.partitions);
  }

  // The event streams' heartbeats and pacing: a thread of their own, so that a slow
  // maintenance task never delays them. Declared before the servers, so it outlives them.
  TimerThread stream_timers;
  // Every listener and connection runs on this loop. Declared after what the
  // connections use, so that its handlers are gone before those are.
  transport::TlsServerContext tls_context(tls);
  transport::EventLoop loop(c.io_threads);

  mqtt::MqttOptions mqtt_options{c.mqtt_bind, c.mqtt_port, c.mqtt_plain_bind, c.mqtt_plain_port};
  mqtt_options.max_pending_connections = static_cast<size_t>(c.mqtt_max_pending);
  const DeviceServices device_services{connections, *event_log, subscription_store, methods, twins, cloud_to_device};
  mqtt::MqttServer mqtt(loop.io(), tls_context, {device_authenticator, authenticator, device_services}, mqtt_options);
  if (auto why = mqtt.Bind()) {
    spdlog::error("Cannot listen for MQTT: {}", *why);
    return 1;
  }

  // The Event Hub-compatible endpoint (AMQP): who reads which partition, across connections.
  PartitionReaders partition_readers;
  consumer_groups.OnDeleted([&partition_readers](const std::string& group) { partition_readers.EvictGroup(group); });
  amqp::AmqpListenOptions amqp_options;
  amqp_options.bind = c.amqp_bind;
  amqp_options.tls_port = c.amqp_port;
  amqp_options.plain_port = c.amqp_plain_port;
  amqp::AmqpServer amqp_server(
      loop.io(), tls_context,
      {*event_log, authenticator, partition_readers, {c.hub_name, Clock::now(), c.AdvertisedHostName(), c.amqp_port},
       [&consumer_groups](const std::string& group) { return consumer_groups.Exists(group); }, &registry,
       &cloud_to_device, &feedback, &device_authenticator, &device_services},
      amqp_options);
  if (auto why = amqp_server.Bind()) {
    spdlog::error("Cannot listen for AMQP: {}", *why);
    return 1;
  }

  http::RestOptions rest_options;
  rest_options.handler_threads = c.http_threads;
  rest_options.max_connections = static_cast<size_t>(c.https_max_connections);
  // MQTT over WebSockets: what the SDKs' MqttWs transports open on 443.
  std::vector<http::WebSocketEndpoint> websockets{
      {"/$iothub/websocket", "mqtt", [&mqtt](std::unique_ptr<transport::ByteStream> s) { mqtt.Adopt(std::move(s)); }},
      // AMQP over WebSockets: the service and device SDKs' AmqpWs transports.
      {"/$iothub/websocket", "AMQPWSB10",
       [&amqp_server](std::unique_ptr<transport::ByteStream> s) { amqp_server.Adopt(std::move(s)); }},
      // AMQP over WebSockets: the Event Hubs SDKs' webSocketOptions open it on 443.
      {"/$servicebus/websocket", "AMQPWSB10",
       [&amqp_server](std::unique_ptr<transport::ByteStream> s) { amqp_server.Adopt(std::move(s)); }}};
  http::RestServer https(loop.io(), tls_context.get(),
                         {registry, authenticator, connections, *event_log, methods, cloud_to_device, twins,
                          stream_timers, c.max_event_streams, consumer_groups},
                         rest_options, std::move(websockets));
  const int https_port = OpenHttps(https, c);
  if (https_port == 0) return 1;

  mqtt.Start();
  amqp_server.Start();
  loop.Start();

  PrintBanner(c, policies, tls, https_port, mqtt, amqp_server, event_log->partition_count(), consumer_groups);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("Received {}, shutting down", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  loop.Stop();
  https.Close();
  mqtt.Stop();
  amqp_server.Stop();  // its readers let go of the event log before it goes
  // Commits what devices already sent; their acknowledgements go nowhere now. Before the
  // loop goes: a pending append holds its connection, whose timers need the io_context.
  event_log.reset();
  loop.Shutdown();  // the connections, while the registry and stores they use are still here
  spdlog::info("Stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // glibc gives each thread that allocates its own arena (up to 8 per core);
  // with ~20 mostly idle threads that is megabytes of resident memory for
  // nothing. Four arenas keep contention low on the busy MQTT and log threads.
  mallopt(M_ARENA_MAX, 4);
  // Our TLS channel writes through OpenSSL's socket BIO, which uses write(): a peer that
  // resets the connection must cost an EPIPE on that socket, not the process. (cpp-httplib
  // happens to ignore SIGPIPE too; the front door leaving it must not bring the signal back.)
  ::signal(SIGPIPE, SIG_IGN);
  auto loaded = iothub::app::LoadConfig(argc, argv);
  if (auto* exit_code = std::get_if<int>(&loaded)) return *exit_code;
  const auto& config = std::get<iothub::app::Config>(loaded);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
  try {
    return Run(config);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
