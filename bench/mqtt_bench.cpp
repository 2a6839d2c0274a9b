// mqtt-bench: durable device-to-cloud throughput of the emulator against a stock
// mosquitto broker's non-durable publisher-to-subscriber throughput, both over
// TLS at QoS 1 on this machine in the same run, and the emulator's memory per
// idle TLS connection. Prints figures; asserts nothing (see bench/README.md).
#include <mosquitto.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <httplib.h>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "core/sas_token.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using namespace bench;

namespace {

struct Options {
  std::string emulator = "build/iothub-emulator";
  std::string mosquitto = "/usr/sbin/mosquitto";
  int devices = 8;
  int messages = 20000;  // per device
  int size = 256;       // payload bytes
  int idle = 5000;
  int inflight = 20;    // libmosquitto's default window
};

struct Publisher {
  mosquitto* m = nullptr;
  std::atomic<int> acked{0};
  std::atomic<bool> connected{false};
};

struct Result {
  double seconds = 0;
  int messages = 0;
  double rate() const { return messages / seconds; }
};

// K publishers, N QoS 1 messages each, as fast as the acknowledgement window allows.
Result Publish(const Options& o, int port, const std::string& ca, const std::vector<std::string>& ids,
               const std::function<std::string(int)>& topic_of, const std::function<std::pair<std::string, std::string>(int)>& credentials_of) {
  std::vector<std::unique_ptr<Publisher>> pubs;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto p = std::make_unique<Publisher>();
    p->m = mosquitto_new(ids[i].c_str(), true, p.get());
    mosquitto_int_option(p->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(p->m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(p->m, o.inflight);
    auto [user, password] = credentials_of(static_cast<int>(i));
    if (!user.empty()) mosquitto_username_pw_set(p->m, user.c_str(), password.c_str());
    mosquitto_tls_set(p->m, ca.c_str(), nullptr, nullptr, nullptr, nullptr);
    mosquitto_connect_callback_set(p->m, [](mosquitto*, void* self, int rc) {
      if (rc == 0) static_cast<Publisher*>(self)->connected = true;
    });
    mosquitto_publish_callback_set(p->m, [](mosquitto*, void* self, int) { static_cast<Publisher*>(self)->acked++; });
    if (int rc = mosquitto_connect(p->m, "127.0.0.1", port, 600); rc != MOSQ_ERR_SUCCESS) {
      throw std::runtime_error(std::string("connect failed: ") + mosquitto_strerror(rc) + " / " + std::strerror(errno));
    }
    mosquitto_loop_start(p->m);
    pubs.push_back(std::move(p));
  }
  for (auto& p : pubs) {
    for (int i = 0; i < 400 && !p->connected; ++i) std::this_thread::sleep_for(10ms);
    if (!p->connected) throw std::runtime_error("a publisher was not accepted");
  }
  const std::string payload(o.size, 'x');
  auto start = Clock::now();
  std::vector<std::thread> senders;
  for (size_t i = 0; i < pubs.size(); ++i) {
    senders.emplace_back([&, i] {
      const std::string topic = topic_of(static_cast<int>(i));
      for (int n = 0; n < o.messages; ++n) {
        mosquitto_publish(pubs[i]->m, nullptr, topic.c_str(), o.size, payload.data(), 1, false);
      }
    });
  }
  for (auto& t : senders) t.join();
  for (auto& p : pubs) {
    while (p->acked < o.messages) std::this_thread::sleep_for(1ms);
  }
  Result r{std::chrono::duration<double>(Clock::now() - start).count(), static_cast<int>(pubs.size()) * o.messages};
  for (auto& p : pubs) {
    mosquitto_disconnect(p->m);
    mosquitto_loop_stop(p->m, false);
    mosquitto_destroy(p->m);
  }
  return r;
}

// A stock mosquitto with a TLS listener on our development certificate, nothing persisted.
pid_t StartMosquitto(const Options& o, const fs::path& dir, const std::string& ca, int port) {
  const fs::path conf = dir / "mosquitto.conf";
  std::ofstream(conf) << "listener " << port << " 127.0.0.1\n"
                      << "allow_anonymous true\npersistence false\nmax_queued_messages 1000000\n"
                      << "set_tcp_nodelay true\n"  // as the emulator does; otherwise replies wait on delayed ACKs
                      << "cafile " << ca << "\ncertfile " << (dir / "certs/server.pem").string() << "\nkeyfile "
                      << (dir / "certs/server.key").string() << "\n"
                      // As root mosquitto would switch to its own user, which cannot read our 0600 key.
                      << (::geteuid() == 0 ? "user root\n" : "");
  pid_t pid = Spawn({o.mosquitto, "-c", conf.string()}, (dir / "mosquitto.log").string());
  for (int i = 0; i < 200 && !PortOpen(port); ++i) std::this_thread::sleep_for(25ms);
  return pid;
}

struct IdleResult {
  int connected = 0;
  double seconds = 0;
  long before_kib = 0, after_kib = 0;
  double per_connection_kib() const { return connected ? double(after_kib - before_kib) / connected : 0; }
};

// Connects `count` clients one after another and leaves them idle; the server's RSS before and after.
IdleResult ConnectIdle(int count, pid_t server, int port, const std::string& ca,
                       const std::function<std::pair<std::string, std::string>(int)>& credentials_of) {
  IdleResult r;
  std::this_thread::sleep_for(500ms);
  r.before_kib = ProcKib(server, "VmRSS:");
  std::vector<mosquitto*> clients;
  auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    std::string id = "idle-" + std::to_string(i);
    mosquitto* m = mosquitto_new(id.c_str(), true, &r.connected);
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);  // or a CONNECT may wait ~40 ms on a delayed ACK
    auto [user, password] = credentials_of(i);
    if (!user.empty()) mosquitto_username_pw_set(m, user.c_str(), password.c_str());
    mosquitto_tls_set(m, ca.c_str(), nullptr, nullptr, nullptr, nullptr);
    mosquitto_connect_callback_set(m, [](mosquitto*, void* connected, int rc) {
      if (rc == 0) (*static_cast<int*>(connected))++;
    });
    if (mosquitto_connect(m, "127.0.0.1", port, 1000) != MOSQ_ERR_SUCCESS) break;
    // mosquitto_loop() uses select(), which stops at descriptor 1024: wait with poll() instead.
    int before = r.connected;
    for (int k = 0; k < 100 && r.connected == before; ++k) {
      if (mosquitto_want_write(m)) mosquitto_loop_write(m, 1);
      pollfd p{mosquitto_socket(m), POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) mosquitto_loop_read(m, 1);
    }
    clients.push_back(m);
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::this_thread::sleep_for(1s);
  r.after_kib = ProcKib(server, "VmRSS:");
  for (mosquitto* m : clients) mosquitto_destroy(m);
  return r;
}

// Latency from PUBACK to the event's arrival on an open event stream, message by message.
struct StreamLatency {
  std::vector<double> ack_ms, stream_ms;  // after publish: the PUBACK, and the stream frame
};

StreamLatency MeasureStreamLatency(Emulator& hub, const std::string& ca, int messages) {
  StreamLatency out;
  hub.CreateDevices("latency-", 1);
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Clock::time_point> arrived;
  std::atomic<bool> open{false}, stop{false};
  const std::string token = ServiceToken();
  std::thread reader([&] {
    httplib::SSLClient cli("localhost", hub.https_port);
    cli.set_ca_cert_path(ca.c_str());
    cli.enable_server_certificate_verification(true);
    cli.set_read_timeout(std::chrono::seconds(60));
    std::string buffer;
    cli.Get("/emulator/events/stream?from=latest&deviceId=latency-0", {{"Authorization", token}},
            [&](const char* data, size_t n) {
              auto now = Clock::now();
              open = true;
              buffer.append(data, n);
              size_t end;
              while ((end = buffer.find("\n\n")) != std::string::npos) {
                std::string block = buffer.substr(0, end);
                buffer.erase(0, end + 2);
                size_t at = block.find("data: ");
                if (at == std::string::npos) continue;
                auto e = nlohmann::json::parse(block.substr(at + 6));
                std::lock_guard lock(mu);
                arrived[e["properties"]["messageId"].get<std::string>()] = now;
                cv.notify_all();
              }
              return !stop;
            });
  });
  while (!open) std::this_thread::sleep_for(10ms);

  struct Acks {
    std::mutex mu;
    std::condition_variable cv;
    int last = -1;
  } acks;
  mosquitto* m = mosquitto_new("latency-0", true, &acks);
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_username_pw_set(m, "localhost/latency-0/?api-version=2021-04-12",
                            iothub::CreateSasToken("localhost/devices/latency-0", kDeviceKey, UnixNow() + 3600).c_str());
  mosquitto_tls_set(m, ca.c_str(), nullptr, nullptr, nullptr, nullptr);
  mosquitto_publish_callback_set(m, [](mosquitto*, void* self, int mid) {
    auto* a = static_cast<Acks*>(self);
    std::lock_guard lock(a->mu);
    a->last = mid;
    a->cv.notify_all();
  });
  mosquitto_connect(m, "127.0.0.1", hub.mqtt_port, 60);
  mosquitto_loop_start(m);
  std::this_thread::sleep_for(200ms);
  for (int i = 0; i < messages; ++i) {
    const std::string id = "lat-" + std::to_string(i);
    const std::string topic = "devices/latency-0/messages/events/%24.mid=" + id;
    int mid = 0;
    auto sent = Clock::now();
    mosquitto_publish(m, &mid, topic.c_str(), 16, "0123456789abcdef", 1, false);
    Clock::time_point acked;
    {
      std::unique_lock lock(acks.mu);
      acks.cv.wait_for(lock, 5s, [&] { return acks.last == mid; });
      acked = Clock::now();
    }
    std::unique_lock lock(mu);
    cv.wait_for(lock, 5s, [&] { return arrived.count(id) > 0; });
    if (!arrived.count(id)) continue;
    out.ack_ms.push_back(std::chrono::duration<double, std::milli>(acked - sent).count());
    out.stream_ms.push_back(std::chrono::duration<double, std::milli>(arrived[id] - sent).count());
  }
  mosquitto_disconnect(m);
  mosquitto_loop_stop(m, false);
  mosquitto_destroy(m);
  stop = true;
  reader.detach();  // it ends at its next frame or read timeout; the emulator stops right after
  return out;
}

int64_t CountStoredEvents(const fs::path& db_path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM events", -1, &s, nullptr);
  int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app("Durable D2C throughput of iothub-emulator vs mosquitto pub->sub, and memory per idle TLS connection");
  app.add_option("--emulator", o.emulator, "iothub-emulator binary")->capture_default_str();
  app.add_option("--mosquitto", o.mosquitto, "mosquitto broker binary")->capture_default_str();
  app.add_option("--devices", o.devices, "publishing devices (K)")->capture_default_str();
  app.add_option("--messages", o.messages, "QoS 1 messages per device (N)")->capture_default_str();
  app.add_option("--size", o.size, "payload bytes (S)")->capture_default_str();
  app.add_option("--idle", o.idle, "idle TLS connections (C)")->capture_default_str();
  app.add_option("--inflight", o.inflight, "unacknowledged messages per publisher")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  RaiseFileLimit();
  mosquitto_lib_init();

  const fs::path dir = fs::temp_directory_path() / ("iothub-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::system((o.emulator + " --data-dir " + dir.string() + " --generate-certs > /dev/null").c_str());
  const std::string ca = (dir / "certs/ca.pem").string();
  std::printf("mqtt-bench: K=%d devices x N=%d QoS 1 messages of S=%d bytes, TLS, in-flight window %d; C=%d idle\n",
              o.devices, o.messages, o.size, o.inflight, o.idle);

  // 1. The emulator: durable device-to-cloud (PUBACK after the SQLite commit).
  Result emulator;
  StreamLatency latency;
  long emulator_peak_kib = 0;
  int64_t stored = 0;
  {
    Emulator hub(o.emulator, dir, false);
    hub.CreateDevices("bench-", o.devices);
    std::vector<std::string> ids;
    for (int i = 0; i < o.devices; ++i) ids.push_back("bench-" + std::to_string(i));
    emulator = Publish(
        o, hub.mqtt_port, ca, ids,
        [](int i) { return "devices/bench-" + std::to_string(i) + "/messages/events/%24.ct=text%2Fplain&k=v"; },
        [](int i) {
          std::string id = "bench-" + std::to_string(i);
          return std::make_pair("localhost/" + id + "/?api-version=2021-04-12",
                                iothub::CreateSasToken("localhost/devices/" + id, kDeviceKey, UnixNow() + 3600));
        });
    emulator_peak_kib = ProcKib(hub.pid, "VmHWM:");
    latency = MeasureStreamLatency(hub, ca, 200);
  }
  stored = CountStoredEvents(dir / "iothub.db") - static_cast<int64_t>(latency.ack_ms.size());

  // 2. mosquitto: publishers -> one subscriber, no persistence.
  Result broker;
  long broker_peak_kib = 0;
  {
    const int port = FreePort();
    pid_t pid = StartMosquitto(o, dir, ca, port);

    std::atomic<int> delivered{0};
    mosquitto* sub = mosquitto_new("bench-subscriber", true, &delivered);
    mosquitto_tls_set(sub, ca.c_str(), nullptr, nullptr, nullptr, nullptr);
    mosquitto_message_callback_set(sub, [](mosquitto*, void* count, const mosquitto_message*) {
      (*static_cast<std::atomic<int>*>(count))++;
    });
    mosquitto_connect(sub, "127.0.0.1", port, 600);
    mosquitto_subscribe(sub, nullptr, "bench/#", 1);
    mosquitto_loop_start(sub);
    std::this_thread::sleep_for(300ms);
    std::vector<std::string> ids;
    for (int i = 0; i < o.devices; ++i) ids.push_back("bench-pub-" + std::to_string(i));
    broker = Publish(
        o, port, ca, ids, [](int i) { return "bench/" + std::to_string(i); },
        [](int) { return std::make_pair(std::string(), std::string()); });
    for (int i = 0; i < 3000 && delivered < broker.messages; ++i) std::this_thread::sleep_for(10ms);
    broker_peak_kib = ProcKib(pid, "VmHWM:");
    std::printf("mosquitto subscriber received %d of %d\n", delivered.load(), broker.messages);
    mosquitto_disconnect(sub);
    mosquitto_loop_stop(sub, false);
    mosquitto_destroy(sub);
    StopProcess(pid);
  }

  // 3. Memory per idle TLS connection: the emulator (devices signed in), then mosquitto (anonymous).
  IdleResult idle_emulator, idle_broker;
  if (o.idle > 0) {
    fs::remove(dir / "iothub.db");  // a fresh log and registry, on disk as users run it
    fs::remove(dir / "iothub.db-wal");
    fs::remove(dir / "iothub.db-shm");
    {
      Emulator hub(o.emulator, dir, false);
      hub.CreateDevices("idle-", o.idle);
      idle_emulator = ConnectIdle(o.idle, hub.pid, hub.mqtt_port, ca, [](int i) {
        std::string id = "idle-" + std::to_string(i);
        return std::make_pair("localhost/" + id + "/?api-version=2021-04-12",
                              iothub::CreateSasToken("localhost/devices/" + id, kDeviceKey, UnixNow() + 3600));
      });
    }
    const int port = FreePort();
    pid_t pid = StartMosquitto(o, dir, ca, port);
    idle_broker = ConnectIdle(o.idle, pid, port, ca, [](int) { return std::make_pair(std::string(), std::string()); });
    StopProcess(pid);
  }
  mosquitto_lib_cleanup();
  fs::remove_all(dir);

  std::printf("\n%-44s %12s %12s\n", "", "emulator", "mosquitto");
  std::printf("%-44s %12s %12s\n", "delivery guarantee", "durable", "in memory");
  std::printf("%-44s %12.0f %12.0f\n", "messages/second until the last PUBACK", emulator.rate(), broker.rate());
  std::printf("%-44s %12.2f %12.2f\n", "seconds for all messages", emulator.seconds, broker.seconds);
  std::printf("%-44s %12.1f %12.1f\n", "server peak resident memory (MiB)", emulator_peak_kib / 1024.0,
              broker_peak_kib / 1024.0);
  std::printf("%-44s %12lld %12s\n", "events in the log after shutdown", static_cast<long long>(stored), "-");
  std::printf("\nthroughput ratio emulator/mosquitto: %.2f\n", emulator.rate() / broker.rate());
  std::printf("\nevent stream, one message at a time (%zu messages), milliseconds after PUBLISH:\n",
              latency.ack_ms.size());
  std::printf("  PUBACK       p50 %.2f  p99 %.2f  max %.2f\n", Percentile(latency.ack_ms, 0.5),
              Percentile(latency.ack_ms, 0.99), Percentile(latency.ack_ms, 1.0));
  std::printf("  on a stream  p50 %.2f  p99 %.2f  max %.2f\n", Percentile(latency.stream_ms, 0.5),
              Percentile(latency.stream_ms, 0.99), Percentile(latency.stream_ms, 1.0));
  if (o.idle > 0) {
    std::printf("\n%-44s %12s %12s\n", "idle TLS connections", "emulator", "mosquitto");
    std::printf("%-44s %12d %12d\n", "accepted", idle_emulator.connected, idle_broker.connected);
    std::printf("%-44s %12.1f %12.1f\n", "seconds to connect them one by one", idle_emulator.seconds,
                idle_broker.seconds);
    std::printf("%-44s %12.1f %12.1f\n", "server RSS before (MiB)", idle_emulator.before_kib / 1024.0,
                idle_broker.before_kib / 1024.0);
    std::printf("%-44s %12.1f %12.1f\n", "server RSS with them connected (MiB)", idle_emulator.after_kib / 1024.0,
                idle_broker.after_kib / 1024.0);
    std::printf("%-44s %12.1f %12.1f\n", "KiB per connection", idle_emulator.per_connection_kib(),
                idle_broker.per_connection_kib());
  }
  return stored == emulator.messages ? 0 : 1;
}
