// amqp-device-bench: the device AMQP endpoints against the device MQTT endpoint, in
// one run on one emulator (data on disk, TLS, free ports): acknowledged telemetry
// from one device and from 8 (AMQP: the accepted disposition, which the emulator sends
// after the commit; MQTT: the PUBACK), C2D from the service link to one connected
// device with full feedback, and memory per idle signed-in AMQP/TLS device beside
// MQTT/TLS. AMQP clients are Proton C++ (bench/amqp_device_clients.h), MQTT clients
// libmosquitto (bench_clients.h, as mqtt-bench and reader-bench). Prints figures;
// asserts nothing (see bench/README.md).
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "amqp_device_clients.h"
#include "bench_clients.h"
#include "bench_support.h"

using namespace bench;
using namespace std::chrono_literals;

namespace {

struct Options {
  std::string emulator = "build/iothub-emulator";
  int devices = 8;          // the multi-device telemetry phases
  int messages = 10'000;    // per device and telemetry phase
  int size = 256;           // payload bytes, telemetry and C2D
  int inflight = 20;        // unacknowledged telemetry messages per device, both protocols (libmosquitto's default)
  int repeats = 3;          // of every phase, interleaved; medians reported
  int c2d = 5'000;          // C2D messages per run
  int c2d_window = 40;      // C2D messages sent but not yet completed by the device (the hub queues 50 per device)
  int idle = 2'000;         // idle connections per memory figure
  int threads = 2;          // Proton container threads
  bool in_memory = false;   // the telemetry and C2D emulator without its data on disk (no fsync per commit)
  std::string sign_in = "cbs";  // of the AMQP devices: cbs (put-token, as the SDK) or plain ({id}@sas.{hub})
  std::vector<std::string> phases = {"telemetry", "c2d", "idle"};
  bool Has(const std::string& p) const { return std::find(phases.begin(), phases.end(), p) != phases.end(); }
  SignIn DeviceSignIn() const { return sign_in == "plain" ? SignIn::kPlain : SignIn::kCbs; }
};

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

std::string Runs(const std::vector<double>& v, const char* format = "%.0f") {
  std::string out;
  char buffer[64];
  for (double x : v) {
    std::snprintf(buffer, sizeof buffer, format, x);
    out += (out.empty() ? "" : " / ") + std::string(buffer);
  }
  return out;
}

int64_t CountStoredEvents(const fs::path& db_path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM events", -1, &s, nullptr);
  const int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

void RemoveDatabase(const fs::path& dir) {
  for (const char* f : {"iothub.db", "iothub.db-wal", "iothub.db-shm"}) fs::remove(dir / f);
}

// One telemetry phase: every device sends n messages at once; msg/s until the last acknowledgement.
struct Rate {
  double rate = 0;
  double cpu_us = 0;         // the emulator's CPU per message
  double client_cpu_us = 0;  // this process' (the clients')
};

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

template <class Device>
Rate SendAll(const Emulator& hub, std::vector<Device*> devices, int n, const std::string& payload,
             const std::function<void(Device&, int)>& send) {
  const double cpu = ProcCpuSeconds(hub.pid), self = SelfCpuSeconds();
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (Device* d : devices) threads.emplace_back([&, d] { send(*d, n); });
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double total = static_cast<double>(n) * static_cast<double>(devices.size());
  return {total / seconds, (ProcCpuSeconds(hub.pid) - cpu) * 1e6 / total, (SelfCpuSeconds() - self) * 1e6 / total};
}

struct TelemetryFigures {
  std::vector<double> rate[2][2], cpu[2][2], client[2][2];  // [MQTT, AMQP][1 device, K devices]
  int64_t expected = 0, stored = 0;
  int64_t amqp_rejected = 0;
};

struct C2dRun {
  double completed_rate = 0;  // msg/s until the device completed the last one
  double feedback_rate = 0;   // msg/s until the service had read the last feedback record
  double cpu_us = 0;
};

struct C2dFigures {
  std::vector<C2dRun> runs;
  int64_t rejected = 0, records = 0, success = 0;
  std::string first_reject;
};

void Telemetry(const Options& o, const Emulator& hub, ProtonClients& proton, TelemetryFigures& f) {
  const AmqpTarget target(hub.amqp_port, hub.ca());
  std::vector<std::unique_ptr<Publisher>> mqtt;
  std::vector<std::unique_ptr<AmqpDevice>> amqp;
  for (int i = 0; i < o.devices; ++i) {
    mqtt.push_back(std::make_unique<Publisher>(hub, "mqtt-" + std::to_string(i), o.inflight));
    amqp.push_back(std::make_unique<AmqpDevice>(proton, target, "amqp-" + std::to_string(i), o.DeviceSignIn(),
                                                AmqpDevice::Links{.telemetry = true}));
  }
  for (auto& d : amqp) {
    if (!d->WaitReady(20s)) throw std::runtime_error("an AMQP device did not get ready: " + d->error());
  }
  const std::string payload(o.size, 'x');
  std::function<void(Publisher&, int)> mqtt_send = [&](Publisher& p, int n) { p.Send(n, payload); };
  std::function<void(AmqpDevice&, int)> amqp_send = [&](AmqpDevice& d, int n) { d.Send(n, payload, o.inflight); };
  std::vector<Publisher*> mqtt_all, mqtt_one = {mqtt[0].get()};
  std::vector<AmqpDevice*> amqp_all, amqp_one = {amqp[0].get()};
  for (auto& p : mqtt) mqtt_all.push_back(p.get());
  for (auto& d : amqp) amqp_all.push_back(d.get());

  // Warm-up: every connection and the log's first pages, not counted.
  SendAll(hub, mqtt_all, 500, payload, mqtt_send);
  SendAll(hub, amqp_all, 500, payload, amqp_send);
  f.expected += 1000LL * o.devices;
  for (int r = 0; r < o.repeats; ++r) {
    for (int k = 0; k < 2; ++k) {  // 1 device, then K
      for (int proto = 0; proto < 2; ++proto) {
        const Rate rate = proto == 0 ? SendAll(hub, k ? mqtt_all : mqtt_one, o.messages, payload, mqtt_send)
                                     : SendAll(hub, k ? amqp_all : amqp_one, o.messages, payload, amqp_send);
        f.expected += static_cast<int64_t>(o.messages) * (k ? o.devices : 1);
        f.rate[proto][k].push_back(rate.rate);
        f.cpu[proto][k].push_back(rate.cpu_us);
        f.client[proto][k].push_back(rate.client_cpu_us);
        std::printf("  run %d, %d device(s), %s: %8.0f msg/s, CPU per message: emulator %.1f us, clients %.1f us\n",
                    r + 1, k ? o.devices : 1, proto ? "AMQP" : "MQTT", rate.rate, rate.cpu_us, rate.client_cpu_us);
        std::fflush(stdout);
      }
    }
  }
  for (auto& d : amqp) f.amqp_rejected += d->rejected();
}

void CloudToDevice(const Options& o, const Emulator& hub, ProtonClients& proton, C2dFigures& f) {
  const AmqpTarget target(hub.amqp_port, hub.ca());
  auto service = std::make_unique<AmqpService>(proton, target);
  if (!service->WaitReady(20s)) throw std::runtime_error("the service did not get ready: " + service->error());
  // The device wakes the service's sender after each completion (the window counts completions).
  AmqpDevice device(proton, target, "c2d-0", o.DeviceSignIn(), AmqpDevice::Links{.c2d = true},
                    [s = service.get()] { s->Wake(); });
  if (!device.WaitReady(20s)) throw std::runtime_error("the C2D device did not get ready: " + device.error());
  const std::string payload(o.size, 'c');
  auto completed = [&device] { return device.completed(); };
  auto run = [&](int n) -> std::optional<C2dRun> {
    const int64_t done = device.completed() + n;
    const int64_t sent = service->sent_accepted() + n;
    const int64_t records = service->records() + n;
    const double cpu = ProcCpuSeconds(hub.pid);
    const auto start = Clock::now();
    service->StartSending("c2d-0", n, payload, o.c2d_window, completed);
    auto last = service->WaitFeedback(sent, records, 120s);
    const auto now = Clock::now();
    if (!last) {
      std::printf("  C2D: %lld of %d completed, %lld accepted, %lld rejected (%s), %lld feedback records after "
                  "120 s; service: %s; device: %s\n",
                  static_cast<long long>(device.completed() - (done - n)), n,
                  static_cast<long long>(service->sent_accepted()), static_cast<long long>(service->sent_rejected()),
                  service->first_reject().c_str(), static_cast<long long>(service->records() - (records - n)),
                  service->error().c_str(), device.error().c_str());
      return std::nullopt;
    }
    C2dRun r;
    r.feedback_rate = n / std::chrono::duration<double>(*last - start).count();
    r.completed_rate = device.completed() >= done ? n / std::chrono::duration<double>(now - start).count() : 0;
    r.cpu_us = (ProcCpuSeconds(hub.pid) - cpu) * 1e6 / n;
    return r;
  };
  if (!run(200)) return;  // warm-up
  for (int r = 0; r < o.repeats; ++r) {
    auto figures = run(o.c2d);
    if (!figures) break;
    std::printf("  run %d: %8.0f msg/s with every feedback record read, emulator CPU %.1f us/msg\n", r + 1,
                figures->feedback_rate, figures->cpu_us);
    std::fflush(stdout);
    f.runs.push_back(*figures);
  }
  f.rejected = service->sent_rejected();
  f.records = service->records();
  f.success = service->success_records();
  f.first_reject = service->first_reject();
}

struct IdleResult {
  int connected = 0;
  double seconds = 0;
  long before_kib = 0, after_kib = 0;
  std::string first_error;
  double per_connection_kib() const { return connected ? double(after_kib - before_kib) / connected : 0; }
};

// C devices of a fresh emulator connect one after another and stay idle; the emulator's RSS before and after.
// kind: 0 MQTT/TLS (CONNECT, as mqtt-bench), 1 AMQP/TLS signed in, 2 the same with a telemetry and a C2D link.
IdleResult Idle(const Options& o, const fs::path& dir, ProtonClients& proton, int kind) {
  RemoveDatabase(dir);
  Emulator hub(o.emulator, dir, false);
  hub.CreateDevices("idle-", o.idle);
  IdleResult r;
  std::this_thread::sleep_for(500ms);  // the creates' work settles before the first figure
  r.before_kib = ProcKib(hub.pid, "VmRSS:");
  const auto start = Clock::now();
  ClientTlsContext ctx = NewClientTlsContext(hub.ca());
  const AmqpTarget target(hub.amqp_port, hub.ca());
  std::vector<std::unique_ptr<TlsClient>> mqtt;
  std::vector<std::unique_ptr<AmqpDevice>> amqp;
  int failures = 0;
  for (int i = 0; i < o.idle && failures < 10; ++i) {  // ten failures: the endpoint is not there
    const std::string id = "idle-" + std::to_string(i);
    if (kind == 0) {
      auto client = std::make_unique<TlsClient>();
      auto [user, password] = DeviceCredentials(id);
      if (client->Connect(ctx.get(), hub.mqtt_port) && MqttSignIn(*client, MqttConnectPacket(id, user, password, 1000))) {
        mqtt.push_back(std::move(client));
      } else if (++failures == 1) {
        r.first_error = id + ": " + client->error();
      }
      continue;
    }
    auto device = std::make_unique<AmqpDevice>(proton, target, id, o.DeviceSignIn(),
                                               AmqpDevice::Links{.telemetry = kind == 2, .c2d = kind == 2});
    if (device->WaitReady(10s)) {
      amqp.push_back(std::move(device));
    } else if (++failures == 1) {
      r.first_error = id + ": " + device->error();
    }
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.connected = static_cast<int>(mqtt.size() + amqp.size());
  std::this_thread::sleep_for(1s);
  r.after_kib = ProcKib(hub.pid, "VmRSS:");
  for (auto& d : amqp) d->Close();  // all at once; each handler then waits for its own end
  return r;
}

void PrintIdle(const char* what, const IdleResult& r, int wanted) {
  std::printf("  %-50s %5d/%d in %5.1f s; RSS %6.1f -> %6.1f MiB: %5.1f KiB per connection%s%s\n", what,
              r.connected, wanted, r.seconds, r.before_kib / 1024.0, r.after_kib / 1024.0, r.per_connection_kib(),
              r.first_error.empty() ? "" : "; first failure: ", r.first_error.c_str());
  std::fflush(stdout);
}

int Run(const Options& o) {
  const fs::path dir = fs::temp_directory_path() / ("iothub-amqp-device-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::system((o.emulator + " --data-dir " + dir.string() + " --generate-certs > /dev/null").c_str());
  ProtonClients proton(o.threads);
  TelemetryFigures telemetry;
  C2dFigures c2d;
  std::vector<IdleResult> idle[3];
  std::printf("amqp-device-bench: telemetry %d and 1 device(s) x %d messages of %d bytes, %d unacknowledged per "
              "device; C2D %d messages (window %d); %d idle; AMQP sign-in %s; %d repeats\n",
              o.devices, o.messages, o.size, o.inflight, o.c2d, o.c2d_window, o.idle, o.sign_in.c_str(), o.repeats);
  if (o.Has("telemetry") || o.Has("c2d")) {
    {
      Emulator hub(o.emulator, dir, o.in_memory);
      hub.CreateDevices("mqtt-", o.devices);
      hub.CreateDevices("amqp-", o.devices);
      hub.CreateDevices("c2d-", 1);
      try {
        if (o.Has("telemetry")) {
          std::printf("telemetry:\n");
          Telemetry(o, hub, proton, telemetry);
        }
        if (o.Has("c2d")) {
          std::printf("C2D, service -> 1 device, iothub-ack full, each completed at once, feedback read:\n");
          CloudToDevice(o, hub, proton, c2d);
        }
      } catch (const std::exception& e) {
        std::printf("  stopped: %s\n", e.what());
      }
    }
    if (o.Has("telemetry") && !o.in_memory) telemetry.stored = CountStoredEvents(dir / "iothub.db");
  }
  if (o.Has("idle") && o.idle > 0) {
    std::printf("idle devices, %d per emulator, one after another:\n", o.idle);
    for (int r = 0; r < o.repeats; ++r) {
      for (int kind = 0; kind < 3; ++kind) {
        static const char* kWhat[] = {"MQTT/TLS, CONNECT", "AMQP/TLS, signed in", "AMQP/TLS, + telemetry and C2D links"};
        idle[kind].push_back(Idle(o, dir, proton, kind));
        PrintIdle(kWhat[kind], idle[kind].back(), o.idle);
      }
    }
  }
  fs::remove_all(dir);

  std::printf("\n");
  if (o.Has("telemetry")) {
    std::printf("telemetry, %d-byte messages, %d unacknowledged per device; median of %d (runs)\n", o.size,
                o.inflight, o.repeats);
    std::printf("  %-10s %-32s %-32s %6s  CPU/msg MQTT, AMQP: emulator; clients\n", "", "MQTT (PUBACK)",
                "AMQP (accepted)", "AMQP/MQTT");
    for (int k = 0; k < 2; ++k) {
      const double m = Median(telemetry.rate[0][k]), a = Median(telemetry.rate[1][k]);
      std::printf("  %d device%s  %8.0f (%-21s) %8.0f (%-21s) %6.2f  %.1f, %.1f us; %.1f, %.1f us\n",
                  k ? o.devices : 1, k ? "s" : " ", m, Runs(telemetry.rate[0][k]).c_str(), a,
                  Runs(telemetry.rate[1][k]).c_str(), m > 0 ? a / m : 0.0, Median(telemetry.cpu[0][k]),
                  Median(telemetry.cpu[1][k]), Median(telemetry.client[0][k]), Median(telemetry.client[1][k]));
    }
    for (int k = 0; k < 2; ++k) {  // each run's AMQP phase against the MQTT phase just before it: drift cancels
      std::vector<double> ratios;
      for (size_t r = 0; r < telemetry.rate[0][k].size() && r < telemetry.rate[1][k].size(); ++r) {
        ratios.push_back(telemetry.rate[1][k][r] / telemetry.rate[0][k][r]);
      }
      std::printf("  AMQP/MQTT run by run, %d device%s: %s (median %.2f)\n", k ? o.devices : 1, k ? "s" : "",
                  Runs(ratios, "%.2f").c_str(), Median(ratios));
    }
    std::printf("  AMQP messages rejected: %lld; events in the log after shutdown: %lld of %lld\n",
                static_cast<long long>(telemetry.amqp_rejected), static_cast<long long>(telemetry.stored),
                static_cast<long long>(telemetry.expected));
  }
  if (o.Has("c2d")) {
    std::vector<double> done, fed, cpu;
    for (const C2dRun& r : c2d.runs) {
      done.push_back(r.completed_rate);
      fed.push_back(r.feedback_rate);
      cpu.push_back(r.cpu_us);
    }
    std::printf("C2D, %d messages per run, service link -> 1 device, ack full: %.0f msg/s with feedback read (%s), "
                "%.0f until the last completion; emulator CPU %.1f us/msg\n",
                o.c2d, Median(fed), Runs(fed).c_str(), Median(done), Median(cpu));
    std::printf("  sends refused by the hub (queue of 50 full; sent again): %lld%s%s; feedback records %lld, of them "
                "Success %lld\n",
                static_cast<long long>(c2d.rejected), c2d.first_reject.empty() ? "" : ", first: ",
                c2d.first_reject.c_str(), static_cast<long long>(c2d.records), static_cast<long long>(c2d.success));
  }
  if (o.Has("idle") && o.idle > 0) {
    static const char* kWhat[] = {"MQTT/TLS (CONNECT)", "AMQP/TLS, signed in ($cbs links kept)",
                                  "AMQP/TLS, + telemetry sender and C2D receiver"};
    std::printf("memory per idle device, %d connections, KiB (median of %d):\n", o.idle, o.repeats);
    for (int kind = 0; kind < 3; ++kind) {
      std::vector<double> kib;
      int connected = o.idle;
      for (const IdleResult& r : idle[kind]) {
        kib.push_back(r.per_connection_kib());
        connected = std::min(connected, r.connected);
      }
      std::printf("  %-48s %6.1f KiB (%s)%s\n", kWhat[kind], Median(kib), Runs(kib, "%.1f").c_str(),
                  connected < o.idle ? "  (NOT ALL CONNECTED)" : "");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app("Device AMQP against device MQTT: telemetry, C2D with feedback, memory per idle device");
  app.add_option("--emulator", o.emulator, "iothub-emulator binary")->capture_default_str();
  app.add_option("--devices", o.devices, "devices in the multi-device telemetry phases")->capture_default_str();
  app.add_option("--messages", o.messages, "telemetry messages per device and phase")->capture_default_str();
  app.add_option("--size", o.size, "payload bytes")->capture_default_str();
  app.add_option("--inflight", o.inflight, "unacknowledged telemetry messages per device")->capture_default_str();
  app.add_option("--repeats", o.repeats, "runs of every phase, interleaved (medians reported)")->capture_default_str();
  app.add_option("--c2d", o.c2d, "C2D messages per run")->capture_default_str();
  app.add_option("--c2d-window", o.c2d_window, "C2D messages sent but not yet completed")->capture_default_str();
  app.add_option("--idle", o.idle, "idle devices per memory figure (0: none)")->capture_default_str();
  app.add_flag("--in-memory", o.in_memory, "telemetry and C2D against an --in-memory emulator (no fsync)");
  app.add_option("--threads", o.threads, "Proton container threads")->capture_default_str();
  app.add_option("--sign-in", o.sign_in, "AMQP device sign-in: cbs or plain")->capture_default_str()
      ->check(CLI::IsMember({"cbs", "plain"}));
  app.add_option("--phases", o.phases, "which of telemetry, c2d, idle to run")->delimiter(',')->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit();
  mosquitto_lib_init();
  try {
    const int rc = Run(o);
    mosquitto_lib_cleanup();
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "amqp-device-bench: %s\n", e.what());
    return 1;
  }
}
