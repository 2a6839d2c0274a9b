// rest-bench: the HTTPS front door (port 443's REST API and MQTT over WebSocket)
// under load on this machine: registry creates per second, the direct-method round
// trip, REST latency beside idle sockets, and memory per idle MQTT device over
// WebSocket and over TLS on the MQTT port, each beside mosquitto's. Prints figures;
// asserts nothing (see bench/README.md).
#include <mosquitto.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <httplib.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace bench;

namespace {

const std::string kApi = "?api-version=2021-04-12";
const std::string kWebSocketPath = "/$iothub/websocket";
constexpr int kKeepAliveSeconds = 1000;  // as mqtt-bench's idle clients

struct Options {
  std::string emulator = "build/iothub-emulator";
  std::string mosquitto = "/usr/sbin/mosquitto";
  int devices = 4000;       // N, created over REST
  int clients = 8;          // P, concurrent keep-alive HTTPS clients creating them
  int methods = 2000;       // M, sequential direct-method calls
  int gets = 2000;          // sequential GET /devices/{id}, each way
  int idle_plain = 300;     // plain TCP sockets on the HTTPS port during the second GET round
  int idle_tls = 50;        // and TLS-handshaken ones
  int idle = 2000;          // C, idle MQTT devices per memory measure
  int repeats = 3;
  bool peers = true;        // the mosquitto side of the memory measures
};

std::unique_ptr<httplib::SSLClient> HttpsClient(const Emulator& hub) {
  auto cli = std::make_unique<httplib::SSLClient>("localhost", hub.https_port);
  cli->set_ca_cert_path(hub.ca().c_str());
  cli->enable_server_certificate_verification(true);
  cli->set_keep_alive(true);
  // As the SDKs' agents do; otherwise a body written after its header waits ~40 ms for a delayed ACK.
  cli->set_tcp_nodelay(true);
  cli->set_read_timeout(std::chrono::seconds(30));
  return cli;
}

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// 1. N devices created with PUT by P keep-alive clients; then the registry's own count.
struct CreateResult {
  double seconds = 0;
  int created = 0, failed = 0;
  long registry_count = -1;
  double rate() const { return created / seconds; }
};

CreateResult CreateDevicesOverRest(const Emulator& hub, int devices, int clients) {
  CreateResult r;
  const std::string token = ServiceToken();
  std::atomic<int> next{0}, created{0}, failed{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&] {
      auto cli = HttpsClient(hub);
      for (int i; (i = next++) < devices;) {
        const std::string id = "rest-" + std::to_string(i);
        const nlohmann::json body = {
            {"deviceId", id},
            {"authentication",
             {{"type", "sas"}, {"symmetricKey", {{"primaryKey", kDeviceKey}, {"secondaryKey", kDeviceKey}}}}}};
        auto res = cli->Put("/devices/" + id + kApi, {{"Authorization", token}}, body.dump(), "application/json");
        (res && res->status == 200 ? created : failed)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.created = created;
  r.failed = failed;
  auto res = HttpsClient(hub)->Get("/statistics/devices" + kApi, {{"Authorization", token}});
  if (res && res->status == 200) r.registry_count = nlohmann::json::parse(res->body).value("totalDeviceCount", -1L);
  return r;
}

// 2. A libmosquitto device that answers every method at once, and M calls to it over one client.
struct MethodDevice {
  mosquitto* m = nullptr;
  std::atomic<bool> connected{false}, subscribed{false};
};

std::vector<double> TimeMethodCalls(Emulator& hub, int calls) {
  hub.CreateDevices("method-", 1);
  MethodDevice device;
  device.m = mosquitto_new("method-0", true, &device);
  mosquitto_int_option(device.m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_int_option(device.m, MOSQ_OPT_TCP_NODELAY, 1);
  auto [user, password] = DeviceCredentials("method-0");
  mosquitto_username_pw_set(device.m, user.c_str(), password.c_str());
  mosquitto_tls_set(device.m, hub.ca().c_str(), nullptr, nullptr, nullptr, nullptr);
  mosquitto_connect_callback_set(device.m, [](mosquitto* m, void* self, int rc) {
    if (rc != 0) return;
    static_cast<MethodDevice*>(self)->connected = true;
    mosquitto_subscribe(m, nullptr, "$iothub/methods/POST/#", 0);
  });
  mosquitto_subscribe_callback_set(device.m, [](mosquitto*, void* self, int, int, const int*) {
    static_cast<MethodDevice*>(self)->subscribed = true;
  });
  // $iothub/methods/POST/{name}/?$rid={rid} -> $iothub/methods/res/200/?$rid={rid}
  mosquitto_message_callback_set(device.m, [](mosquitto* m, void*, const mosquitto_message* message) {
    const std::string topic = message->topic;
    const size_t rid = topic.find("$rid=");
    if (rid == std::string::npos) return;
    const std::string reply = "$iothub/methods/res/200/?" + topic.substr(rid);
    mosquitto_publish(m, nullptr, reply.c_str(), 11, "{\"ok\":true}", 0, false);
  });
  mosquitto_connect(device.m, "127.0.0.1", hub.mqtt_port, kKeepAliveSeconds);
  mosquitto_loop_start(device.m);
  for (int i = 0; i < 500 && !device.subscribed; ++i) std::this_thread::sleep_for(10ms);
  if (!device.subscribed) throw std::runtime_error("the method device did not connect and subscribe");

  auto cli = HttpsClient(hub);
  const std::string token = ServiceToken();
  const std::string body =
      R"({"methodName":"m","payload":{},"responseTimeoutInSeconds":10,"connectTimeoutInSeconds":0})";
  std::vector<double> ms;
  int failed = 0;
  for (int i = -50; i < calls; ++i) {  // the first 50 warm up the connection and the caches
    const auto start = Clock::now();
    auto res = cli->Post("/twins/method-0/methods" + kApi, {{"Authorization", token}}, body, "application/json");
    const double took = MsSince(start);
    if (!res || res->status != 200) {
      ++failed;
      continue;
    }
    if (i >= 0) ms.push_back(took);
  }
  if (failed) std::printf("  direct methods: %d calls failed\n", failed);
  mosquitto_disconnect(device.m);
  mosquitto_loop_stop(device.m, false);
  mosquitto_destroy(device.m);
  return ms;
}

// 3. GET /devices/{id} one after another, with and without idle sockets on the HTTPS port.
struct IdleSockets {
  std::vector<int> plain;
  std::vector<std::unique_ptr<TlsClient>> tls;
  Clock::time_point plain_opened;
  int plain_closed_by_server = 0, tls_closed_by_server = 0;

  ~IdleSockets() { ClosePlain(); }
  void OpenPlain(int port, int count) {
    for (int i = 0; i < count; ++i) {
      int fd = ConnectLoopback(port);
      if (fd < 0) throw std::runtime_error("an idle plain socket was refused");
      plain.push_back(fd);
    }
    plain_opened = Clock::now();
  }
  void ClosePlain() {
    for (int fd : plain) ::close(fd);
    plain.clear();
  }
  // Counts those the server closed (it should not have, within its 10 s TLS handshake limit).
  void Check() {
    for (int fd : plain) {
      char c;
      if (::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0) ++plain_closed_by_server;
    }
    for (auto& t : tls) tls_closed_by_server += t->Open() ? 0 : 1;
  }
};

struct GetLatency {
  std::vector<double> quiet_ms, busy_ms;
  int plain_closed = 0, tls_closed = 0;
};

std::vector<double> TimeGets(httplib::SSLClient& cli, const std::string& token, int count) {
  std::vector<double> ms;
  for (int i = 0; i < count; ++i) {
    const auto start = Clock::now();
    auto res = cli.Get("/devices/method-0" + kApi, {{"Authorization", token}});
    const double took = MsSince(start);
    if (res && res->status == 200) ms.push_back(took);
  }
  return ms;
}

GetLatency TimeGetsBesideIdleSockets(const Emulator& hub, const Options& o) {
  GetLatency r;
  auto cli = HttpsClient(hub);
  const std::string token = ServiceToken();
  TimeGets(*cli, token, 50);  // warm-up
  r.quiet_ms = TimeGets(*cli, token, o.gets);

  IdleSockets idle;
  ClientTlsContext ctx = NewClientTlsContext(hub.ca());
  for (int i = 0; i < o.idle_tls; ++i) {
    auto t = std::make_unique<TlsClient>();
    if (!t->Connect(ctx.get(), hub.https_port)) throw std::runtime_error("idle TLS connection: " + t->error());
    idle.tls.push_back(std::move(t));
  }
  // The server drops a socket that has not begun TLS within 10 s: measure in rounds,
  // with the plain sockets opened afresh when they are 5 s old.
  constexpr int kRound = 250;
  for (int done = 0; done < o.gets; done += kRound) {
    if (idle.plain.empty() || Clock::now() - idle.plain_opened > 5s) {
      idle.ClosePlain();
      idle.OpenPlain(hub.https_port, o.idle_plain);
      std::this_thread::sleep_for(100ms);  // all accepted and waiting for a ClientHello
    }
    auto ms = TimeGets(*cli, token, std::min(kRound, o.gets - done));
    r.busy_ms.insert(r.busy_ms.end(), ms.begin(), ms.end());
    idle.Check();
  }
  r.plain_closed = idle.plain_closed_by_server;
  r.tls_closed = idle.tls_closed_by_server;
  return r;
}

// 4 and 5. C idle MQTT devices connected one after another; the server's RSS before and after.
struct IdleResult {
  int connected = 0;
  double seconds = 0;
  long before_kib = 0, after_kib = 0;
  std::string first_error;
  double per_connection_kib() const { return connected ? double(after_kib - before_kib) / connected : 0; }
};

// `threads` > 1 opens them from that many threads at once (each one after another).
IdleResult ConnectIdleDevices(pid_t server, int port, const std::string& ca, int count, bool websocket, int threads,
                              const std::function<std::pair<std::string, std::string>(int)>& credentials_of) {
  IdleResult r;
  ClientTlsContext ctx = NewClientTlsContext(ca);
  std::this_thread::sleep_for(500ms);
  r.before_kib = ProcKib(server, "VmRSS:");
  std::vector<std::vector<std::unique_ptr<TlsClient>>> clients(threads);
  std::vector<std::string> errors(threads);
  const auto start = Clock::now();
  auto connect_some = [&](int t) {
    for (int i = t; i < count; i += threads) {
      auto client = std::make_unique<TlsClient>();
      auto [user, password] = credentials_of(i);
      const std::string connect = MqttConnectPacket("idle-" + std::to_string(i), user, password, kKeepAliveSeconds);
      const bool ok = client->Connect(ctx.get(), port) && (websocket ? MqttSignInOverWebSocket(*client, kWebSocketPath, connect)
                                                                     : MqttSignIn(*client, connect));
      if (!ok) {
        if (errors[t].empty()) errors[t] = "connection " + std::to_string(i) + ": " + client->error();
        continue;
      }
      clients[t].push_back(std::move(client));
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(connect_some, t);
  for (auto& t : pool) t.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (int t = 0; t < threads; ++t) {
    r.connected += static_cast<int>(clients[t].size());
    if (r.first_error.empty()) r.first_error = errors[t];
  }
  std::this_thread::sleep_for(1s);
  r.after_kib = ProcKib(server, "VmRSS:");
  return r;
}

std::pair<std::string, std::string> IdleDevice(int i) { return DeviceCredentials("idle-" + std::to_string(i)); }
std::pair<std::string, std::string> Anonymous(int) { return {}; }

IdleResult EmulatorIdle(const Options& o, const fs::path& dir, bool websocket) {
  Emulator hub(o.emulator, dir, false);
  hub.CreateDevices("idle-", o.idle);
  return ConnectIdleDevices(hub.pid, websocket ? hub.https_port : hub.mqtt_port, hub.ca(), o.idle, websocket, 1,
                            IdleDevice);
}

IdleResult MosquittoIdle(const Options& o, const fs::path& dir, bool websocket) {
  const std::string tls = "cafile " + (dir / "certs/ca.pem").string() + "\ncertfile " +
                          (dir / "certs/server.pem").string() + "\nkeyfile " + (dir / "certs/server.key").string() +
                          "\n";
  const int port = FreePort();
  // mosquitto 2.0.11 will not start with only a WebSocket listener: a plain one beside it.
  const std::string listeners =
      websocket ? "listener " + std::to_string(FreePort()) + " 127.0.0.1\nlistener " + std::to_string(port) +
                      " 127.0.0.1\nprotocol websockets\n" + tls
                : "listener " + std::to_string(port) + " 127.0.0.1\n" + tls;
  struct Stopped {
    pid_t pid;
    ~Stopped() { StopProcess(pid); }
  } broker{StartMosquitto(o.mosquitto, dir, listeners, port)};
  // mosquitto's WebSocket listener (libwebsockets) takes ~0.3 s per connection opened one by one (its
  // service loop), so those are opened from 16 threads; the memory they hold is the same.
  return ConnectIdleDevices(broker.pid, port, (dir / "certs/ca.pem").string(), o.idle, websocket, websocket ? 16 : 1,
                            Anonymous);
}

void RemoveDatabase(const fs::path& dir) {
  for (const char* name : {"iothub.db", "iothub.db-wal", "iothub.db-shm"}) fs::remove(dir / name);
}

struct Run {
  CreateResult creates, creates_in_memory;
  std::vector<double> method_ms;
  GetLatency gets;
  IdleResult ws, ws_peer, tls, tls_peer;
};

// One row: each run's figure, then the median of them.
void Row(const std::vector<Run>& runs, const std::string& name, const std::string& goal, const char* format,
         const std::function<double(const Run&)>& figure) {
  std::vector<double> values;
  std::printf("| %s |", name.c_str());
  for (const Run& run : runs) {
    values.push_back(figure(run));
    std::printf(" ");
    std::printf(format, values.back());
    std::printf(" |");
  }
  std::printf(" **");
  std::printf(format, Percentile(values, 0.5));
  std::printf("** | %s |\n", goal.c_str());
}

void PrintIdle(const char* what, const IdleResult& r, int wanted) {
  std::printf("  %-44s %5d/%d in %5.1f s, RSS %6.1f -> %6.1f MiB, %5.1f KiB each%s%s\n", what, r.connected, wanted,
              r.seconds, r.before_kib / 1024.0, r.after_kib / 1024.0, r.per_connection_kib(),
              r.first_error.empty() ? "" : "; first failure: ", r.first_error.c_str());
}

// One run of every phase, each on a fresh emulator (and mosquitto); prints its details.
Run RunOnce(const Options& o, const fs::path& dir, int n) {
  Run run;
  RemoveDatabase(dir);
  {
    Emulator hub(o.emulator, dir, false);
    run.creates = CreateDevicesOverRest(hub, o.devices, o.clients);
    run.method_ms = TimeMethodCalls(hub, o.methods);
    run.gets = TimeGetsBesideIdleSockets(hub, o);
  }
  {
    // The same creates without the disk: what the front door and the registry do without an fsync per commit.
    Emulator hub(o.emulator, dir, true);
    run.creates_in_memory = CreateDevicesOverRest(hub, o.devices, o.clients);
  }
  std::printf("run %d:\n  %d devices created in %.2f s (%d failed), registry counts %ld; --in-memory: %d in %.2f s "
              "(%d failed), registry counts %ld\n",
              n, run.creates.created, run.creates.seconds, run.creates.failed, run.creates.registry_count,
              run.creates_in_memory.created, run.creates_in_memory.seconds, run.creates_in_memory.failed,
              run.creates_in_memory.registry_count);
  std::printf("  %zu method calls, p50 %.2f p90 %.2f p99 %.2f max %.2f ms\n", run.method_ms.size(),
              Percentile(run.method_ms, 0.5), Percentile(run.method_ms, 0.9), Percentile(run.method_ms, 0.99),
              Percentile(run.method_ms, 1.0));
  std::printf("  GET alone p50 %.2f p99 %.2f ms; beside idle sockets p50 %.2f p99 %.2f ms (%zu/%zu answered; "
              "idle closed by the server: %d plain, %d TLS)\n",
              Percentile(run.gets.quiet_ms, 0.5), Percentile(run.gets.quiet_ms, 0.99),
              Percentile(run.gets.busy_ms, 0.5), Percentile(run.gets.busy_ms, 0.99), run.gets.quiet_ms.size(),
              run.gets.busy_ms.size(), run.gets.plain_closed, run.gets.tls_closed);
  if (o.idle > 0) {
    RemoveDatabase(dir);
    run.ws = EmulatorIdle(o, dir, true);
    PrintIdle("emulator, MQTT over WebSocket on HTTPS", run.ws, o.idle);
    if (o.peers) {
      run.ws_peer = MosquittoIdle(o, dir, true);
      PrintIdle("mosquitto, MQTT over WebSocket (TLS)", run.ws_peer, o.idle);
    }
    RemoveDatabase(dir);
    run.tls = EmulatorIdle(o, dir, false);
    PrintIdle("emulator, MQTT over TLS", run.tls, o.idle);
    if (o.peers) {
      run.tls_peer = MosquittoIdle(o, dir, false);
      PrintIdle("mosquitto, MQTT over TLS", run.tls_peer, o.idle);
    }
  }
  std::fflush(stdout);
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app("The HTTPS front door under load: REST creates, direct methods, latency beside idle sockets, "
               "memory per idle MQTT-over-WebSocket and MQTT/TLS device (with mosquitto's beside it)");
  app.add_option("--emulator", o.emulator, "iothub-emulator binary")->capture_default_str();
  app.add_option("--mosquitto", o.mosquitto, "mosquitto broker binary")->capture_default_str();
  app.add_option("--devices", o.devices, "devices created with PUT (N)")->capture_default_str();
  app.add_option("--clients", o.clients, "concurrent keep-alive HTTPS clients creating them (P)")->capture_default_str();
  app.add_option("--methods", o.methods, "sequential direct-method calls (M)")->capture_default_str();
  app.add_option("--gets", o.gets, "sequential GET /devices/{id}, without and with idle sockets")->capture_default_str();
  app.add_option("--idle-plain", o.idle_plain, "plain TCP sockets left idle on the HTTPS port")->capture_default_str();
  app.add_option("--idle-tls", o.idle_tls, "TLS-handshaken connections left idle on the HTTPS port")
      ->capture_default_str();
  app.add_option("--idle", o.idle, "idle MQTT devices per memory measure (C; 0 skips them)")->capture_default_str();
  app.add_option("--repeats", o.repeats, "runs of every phase; the table shows each and the median")
      ->check(CLI::Range(1, 20))
      ->capture_default_str();
  app.add_flag("!--no-peers", o.peers, "skip mosquitto's side of the memory measures");
  CLI11_PARSE(app, argc, argv);
  RaiseFileLimit();
  mosquitto_lib_init();

  const fs::path dir = fs::temp_directory_path() / ("iothub-rest-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::system((o.emulator + " --data-dir " + dir.string() + " --generate-certs > /dev/null").c_str());
  std::printf("rest-bench: N=%d creates by P=%d clients, M=%d method calls, %d GETs beside %d plain + %d TLS idle "
              "sockets, C=%d idle devices; %d runs\n",
              o.devices, o.clients, o.methods, o.gets, o.idle_plain, o.idle_tls, o.idle, o.repeats);

  std::vector<Run> runs;
  try {
    for (int n = 1; n <= o.repeats; ++n) runs.push_back(RunOnce(o, dir, n));
  } catch (const std::exception& e) {  // the servers' destructors have stopped them
    std::printf("rest-bench failed: %s\n", e.what());
    fs::remove_all(dir);
    return 2;
  }
  mosquitto_lib_cleanup();
  fs::remove_all(dir);

  std::printf("\n| measure | ");
  for (int n = 1; n <= o.repeats; ++n) std::printf("run %d | ", n);
  std::printf("median | goal |\n|---|");
  for (int n = 0; n <= o.repeats + 1; ++n) std::printf("---|");
  std::printf("\n");
  Row(runs, "registry creates/s over HTTPS (PUT, data on disk, N=" + std::to_string(o.devices) + ", P=" +
                std::to_string(o.clients) + ")",
      "≥ 2,000", "%.0f", [](const Run& r) { return r.creates.rate(); });
  Row(runs, "the same, emulator --in-memory (no fsync per create)", "", "%.0f",
      [](const Run& r) { return r.creates_in_memory.rate(); });
  Row(runs, "direct method REST → device → REST, p50 ms", "< 2", "%.2f",
      [](const Run& r) { return Percentile(r.method_ms, 0.5); });
  Row(runs, "direct method p90 ms", "", "%.2f", [](const Run& r) { return Percentile(r.method_ms, 0.9); });
  Row(runs, "direct method p99 ms", "", "%.2f", [](const Run& r) { return Percentile(r.method_ms, 0.99); });
  Row(runs, "GET /devices/{id} p50 ms, no idle sockets", "", "%.2f",
      [](const Run& r) { return Percentile(r.gets.quiet_ms, 0.5); });
  Row(runs, "GET /devices/{id} p99 ms, no idle sockets", "", "%.2f",
      [](const Run& r) { return Percentile(r.gets.quiet_ms, 0.99); });
  const std::string beside =
      std::to_string(o.idle_plain) + " idle TCP + " + std::to_string(o.idle_tls) + " idle TLS sockets";
  Row(runs, "GET /devices/{id} p50 ms, " + beside, "", "%.2f",
      [](const Run& r) { return Percentile(r.gets.busy_ms, 0.5); });
  Row(runs, "GET /devices/{id} p99 ms, " + beside, "", "%.2f",
      [](const Run& r) { return Percentile(r.gets.busy_ms, 0.99); });
  if (o.idle > 0) {
    const std::string c = " (C=" + std::to_string(o.idle) + ")";
    Row(runs, "emulator KiB per idle MQTT-over-WebSocket device on HTTPS" + c, "≤ 32", "%.1f",
        [](const Run& r) { return r.ws.per_connection_kib(); });
    if (o.peers) {
      Row(runs, "mosquitto KiB per idle MQTT-over-WebSocket (TLS) connection", "", "%.1f",
          [](const Run& r) { return r.ws_peer.per_connection_kib(); });
    }
    Row(runs, "emulator KiB per idle MQTT/TLS device on the MQTT port" + c, "≤ 16 (no regression)", "%.1f",
        [](const Run& r) { return r.tls.per_connection_kib(); });
    if (o.peers) {
      Row(runs, "mosquitto KiB per idle MQTT/TLS connection", "", "%.1f",
          [](const Run& r) { return r.tls_peer.per_connection_kib(); });
    }
  }
  bool complete = true;
  for (const Run& r : runs) {
    complete = complete && r.creates.failed == 0 && r.creates.registry_count == o.devices &&
               r.creates_in_memory.failed == 0 && r.creates_in_memory.registry_count == o.devices &&
               static_cast<int>(r.method_ms.size()) == o.methods;
    if (o.idle > 0) complete = complete && r.ws.connected == o.idle && r.tls.connected == o.idle;
  }
  if (!complete) std::printf("\nsome requests or connections failed: see the runs above\n");
  return complete ? 0 : 1;
}
