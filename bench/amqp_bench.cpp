// amqp-bench: the Event Hub-compatible endpoint (AMQP) read by the official Event Hubs
// SDK for JS, in one run, beside the emulator's own event stream (SSE) where it has a
// peer: catch-up of a full log from the earliest event, publish-to-reader latency at a
// low rate, and device ingest with 4 live AMQP readers against none. The readers are
// Node processes (bench/event_hub_reader.js); the devices are libmosquitto clients in
// this process. Prints figures; asserts nothing (see bench/README.md).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_clients.h"
#include "bench_support.h"

using namespace bench;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

#ifndef IOTHUB_SOURCE_DIR
#define IOTHUB_SOURCE_DIR "."
#endif

struct Options {
  std::string emulator = "build/iothub-emulator";
  std::string node = "node";
  std::string script = IOTHUB_SOURCE_DIR "/bench/event_hub_reader.js";
  std::string node_modules = IOTHUB_SOURCE_DIR "/tests/compat/node_modules";
  int fill = 200'000;        // events in the log read from the earliest
  int size = 256;            // payload bytes
  int devices = 8;           // publishing at once (fill and ingest)
  int inflight = 20;         // unacknowledged messages per device (libmosquitto's default)
  int messages = 5'000;      // per device and ingest phase
  int readers = 4;           // live AMQP readers in the ingest phases
  int repeats = 3;           // of the ingest phases, interleaved; the median counts
  int latency = 1'000;       // messages for the latency figure
  int latency_rate = 50;     // of them per second
  int max_batch = 1'000;     // the SDK's maxBatchSize
  double max_wait = 1;       // the SDK's maxWaitTimeInSeconds
  int credit = 10'000;       // the raw rhea receiver's credit window per partition
  int small_credit = 300;    // and a small one, for comparison
  std::vector<std::string> phases = {"catch-up", "latency", "ingest"};
  bool Has(const std::string& phase) const { return std::find(phases.begin(), phases.end(), phase) != phases.end(); }
};

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// A JSON payload of exactly `size` bytes (telemetry is JSON; the SDK parses it as a user's would).
std::string JsonPayload(int64_t t, int size) {
  std::string head = "{\"t\":" + std::to_string(t) + ",\"pad\":\"";
  const int pad = std::max(0, size - static_cast<int>(head.size()) - 2);
  return head + std::string(pad, 'x') + "\"}";
}

// One bench/event_hub_reader.js process: JSON lines on its stdout, "go"/"stop" on its stdin.
// Killed (and reaped) when destroyed; it also dies with this process (PR_SET_PDEATHSIG).
class NodeReader {
 public:
  NodeReader(const Options& o, const json& config, const std::string& ca, const std::string& log) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    const std::string arg = config.dump();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (err >= 0) ::dup2(err, 2);
      ::close_range(3, ~0U, 0);  // not the devices' sockets nor other readers' pipes
      ::setenv("NODE_PATH", o.node_modules.c_str(), 1);
      ::setenv("NODE_EXTRA_CA_CERTS", ca.c_str(), 1);
      ::execlp(o.node.c_str(), o.node.c_str(), o.script.c_str(), arg.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    thread_ = std::thread([this] { ReadLines(); });
  }
  ~NodeReader() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    ::close(stdin_);
    thread_.join();
    ::close(stdout_);
  }
  NodeReader(const NodeReader&) = delete;
  NodeReader& operator=(const NodeReader&) = delete;

  pid_t pid() const { return pid_; }
  void WaitLoaded() { Wait("loaded", 30s); }
  void Go() { Write("go\n"); }
  void WaitReady() { Wait("ready", 60s); }
  void Stop() { Write("stop\n"); }
  // The done line, or nullopt if it did not come within `timeout`.
  std::optional<json> WaitDone(std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return seen_.count("done") || closed_; }) || !seen_.count("done")) {
      return std::nullopt;
    }
    return seen_["done"];
  }
  // Done within `timeout`, or told to stop and done then (what it had by then).
  json Finish(std::chrono::seconds timeout) {
    if (auto done = WaitDone(timeout)) return *done;
    Stop();
    if (auto done = WaitDone(10s)) return *done;
    throw std::runtime_error("a Node reader gave no figures; see its log");
  }

 private:
  void Write(const std::string& line) {
    if (::write(stdin_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      throw std::runtime_error(std::string("a Node reader is gone (") + std::strerror(errno) + "); see its log");
    }
  }
  void Wait(const char* what, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return seen_.count(what) || closed_; }) || !seen_.count(what)) {
      throw std::runtime_error(std::string("a Node reader did not say ") + what + " (see its log)");
    }
  }
  void ReadLines() {
    std::string buffer;
    char chunk[65536];
    for (;;) {
      const ssize_t n = ::read(stdout_, chunk, sizeof chunk);
      if (n <= 0) break;
      buffer.append(chunk, static_cast<size_t>(n));
      size_t end;
      while ((end = buffer.find('\n')) != std::string::npos) {
        json line = json::parse(buffer.substr(0, end), nullptr, false);
        buffer.erase(0, end + 1);
        if (!line.is_object()) continue;
        std::lock_guard lock(mu_);
        for (const char* what : {"loaded", "ready", "done"}) {
          if (line.contains(what)) seen_[what] = line;
        }
        cv_.notify_all();
      }
    }
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, json> seen_;
  bool closed_ = false;
};

struct Endpoint {
  const Options& o;
  const Emulator& hub;

  std::string ConnectionString(bool tls) const {
    return "Endpoint=sb://localhost:" + std::to_string(tls ? hub.amqp_port : hub.amqp_plain_port) +
           "/;SharedAccessKeyName=iothubowner;SharedAccessKey=" + kOwnerKey + ";EntityPath=emulator" +
           (tls ? "" : ";UseDevelopmentEmulator=true");
  }
  json Sdk(const std::string& start, int64_t expect, bool tls = true, int max_batch = -1) const {
    return {{"mode", "sdk"}, {"start", start}, {"expect", expect}, {"connectionString", ConnectionString(tls)},
            {"maxBatchSize", max_batch > 0 ? max_batch : o.max_batch}, {"maxWaitTimeInSeconds", o.max_wait}};
  }
  // settled: asks for the events settled (nothing accepted back), which the SDK does not.
  json Rhea(const std::string& start, int64_t expect, bool settled, int credit) const {
    return {{"mode", "rhea"}, {"start", start}, {"expect", expect}, {"host", "localhost"}, {"port", hub.amqp_port},
            {"tls", true}, {"ca", hub.ca()}, {"policy", "iothubowner"}, {"key", kOwnerKey}, {"hub", "emulator"},
            {"partitions", 4}, {"creditWindow", credit}, {"settled", settled}};
  }
  std::unique_ptr<NodeReader> Start(const json& config, const std::string& name) const {
    return std::make_unique<NodeReader>(o, config, hub.ca(), (hub.dir / ("node-" + name + ".log")).string());
  }
};

// One read of the whole log from the earliest event.
struct CatchUp {
  std::string name;
  int64_t events = 0;
  double seconds = 0;
  double emulator_cpu = 0;  // seconds of CPU the emulator used meanwhile
  double client_cpu = 0;    // the reader's
  bool in_order = true;
};

CatchUp NodeCatchUp(const Endpoint& ep, const std::string& name, const json& config) {
  auto reader = ep.Start(config, name);
  reader->WaitLoaded();
  const double cpu = ProcCpuSeconds(ep.hub.pid);
  reader->Go();
  const json done = reader->Finish(600s);
  CatchUp c{name};
  c.emulator_cpu = ProcCpuSeconds(ep.hub.pid) - cpu;
  c.events = done["events"].get<int64_t>();
  c.seconds = done["seconds"].get<double>();
  c.client_cpu = done["cpuSeconds"].get<double>();
  c.in_order = done["badSequence"].get<int64_t>() == 0;
  if (!done["errors"].empty()) std::printf("  %s reported: %s\n", name.c_str(), done["errors"].dump().c_str());
  return c;
}

CatchUp StreamCatchUp(const Emulator& hub, int64_t expect) {
  const double cpu = ProcCpuSeconds(hub.pid), self = SelfCpuSeconds();
  const auto start = Clock::now();
  StreamReader reader(hub, "earliest");
  auto done = reader.WaitFor(expect, 600s);
  CatchUp c{"event stream (SSE over TLS, C++ client)"};
  c.events = reader.events();
  c.seconds = std::chrono::duration<double>((done ? *done : Clock::now()) - start).count();
  c.emulator_cpu = ProcCpuSeconds(hub.pid) - cpu;
  c.client_cpu = SelfCpuSeconds() - self;
  return c;
}

// Publishes n messages from each device at once; seconds until the last PUBACK.
double PublishAll(std::vector<std::unique_ptr<Publisher>>& devices, int n, const std::string& payload) {
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (auto& d : devices) threads.emplace_back([&] { d->Send(n, payload); });
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct IngestPhase {
  double rate = 0;          // messages/s until the last PUBACK
  double emulator_cpu = 0;  // µs per message, until the readers had everything
  double readers_cpu = 0;   // the Node readers' together, µs per message
  double lag = 0;           // seconds after the last PUBACK until the slowest reader had every event
  bool complete = true;     // every reader got every event, each partition in sequence
};

IngestPhase Ingest(const Endpoint& ep, std::vector<std::unique_ptr<Publisher>>& devices, int readers,
                   const std::string& payload) {
  const int64_t total = static_cast<int64_t>(ep.o.messages) * static_cast<int64_t>(devices.size());
  std::vector<std::unique_ptr<NodeReader>> open;
  for (int i = 0; i < readers; ++i) open.push_back(ep.Start(ep.Sdk("latest", total), "live-" + std::to_string(i)));
  for (auto& r : open) r->WaitLoaded();
  for (auto& r : open) r->Go();
  for (auto& r : open) r->WaitReady();
  IngestPhase phase;
  const double cpu = ProcCpuSeconds(ep.hub.pid);
  const double seconds = PublishAll(devices, ep.o.messages, payload);
  const int64_t acked = MonotonicNs();
  phase.rate = static_cast<double>(total) / seconds;
  for (auto& r : open) {
    const json done = r->Finish(300s);
    const bool complete = done["events"].get<int64_t>() == total && done["badSequence"].get<int64_t>() == 0;
    if (!complete) {
      std::printf("  a live reader got %lld of %lld events (%lld out of sequence) %s\n",
                  static_cast<long long>(done["events"].get<int64_t>()), static_cast<long long>(total),
                  static_cast<long long>(done["badSequence"].get<int64_t>()), done["errors"].dump().c_str());
    }
    phase.complete = phase.complete && complete;
    phase.readers_cpu += done["cpuSeconds"].get<double>();
    const int64_t last = std::stoll(done["lastAt"].get<std::string>());
    phase.lag = std::max(phase.lag, static_cast<double>(last - acked) / 1e9);
  }
  phase.emulator_cpu = (ProcCpuSeconds(ep.hub.pid) - cpu) * 1e6 / static_cast<double>(total);
  phase.readers_cpu = phase.readers_cpu * 1e6 / static_cast<double>(total);
  return phase;
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

struct Latency {
  std::vector<double> ms;
  int lost = 0;
};

void PrintLatency(const char* name, const Latency& l, int sent) {
  std::printf("  %-52s p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  (%zu of %d)\n", name, Percentile(l.ms, 0.5),
              Percentile(l.ms, 0.99), Percentile(l.ms, 1.0), l.ms.size(), sent);
}

int Run(const Options& o) {
  const fs::path dir = fs::temp_directory_path() / ("iothub-amqp-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::system((o.emulator + " --data-dir " + dir.string() + " --generate-certs > /dev/null").c_str());
  std::vector<CatchUp> catch_ups;
  double fill_seconds = 0;
  Latency sdk_latency, sdk1_latency, rhea_latency, sse_latency;
  std::vector<IngestPhase> phases[2];
  {
    Emulator hub(o.emulator, dir, false);
    Endpoint ep{o, hub};
    hub.CreateDevices("amqp-bench-", o.devices + 1);
    std::vector<std::unique_ptr<Publisher>> devices;
    for (int d = 0; d < o.devices; ++d) {
      devices.push_back(std::make_unique<Publisher>(hub, "amqp-bench-" + std::to_string(d), o.inflight));
    }
    const std::string payload = JsonPayload(0, o.size);

    // 1. Catch-up: fill the log, then read all of it from the earliest event, one reader at a time.
    if (o.Has("catch-up")) {
      const int each = (o.fill + o.devices - 1) / o.devices;
      const int64_t log = static_cast<int64_t>(each) * o.devices;
      std::printf("filling the log with %lld events of %d bytes from %d devices ...\n", static_cast<long long>(log),
                  o.size, o.devices);
      std::fflush(stdout);
      fill_seconds = PublishAll(devices, each, payload);
      std::printf("  %.0f msg/s\ncatch-up from earliest:\n", static_cast<double>(log) / fill_seconds);
      std::fflush(stdout);
      auto report = [&](const CatchUp& c) {
        catch_ups.push_back(c);
        std::printf("  %-52s %8.0f events/s (%lld in %.2f s)\n", c.name.c_str(), c.events / c.seconds,
                    static_cast<long long>(c.events), c.seconds);
        std::fflush(stdout);
      };
      report(NodeCatchUp(ep, "EventHubConsumerClient, AMQP over TLS", ep.Sdk("earliest", log)));
      report(NodeCatchUp(ep, "EventHubConsumerClient, plain AMQP", ep.Sdk("earliest", log, false)));
      // Raw rhea, events sent settled (no accept back), with the large credit window and with a small one: the
      // endpoint's cost per event grows with the deliveries it has handed Proton beyond the session window.
      report(NodeCatchUp(ep, "raw rhea, TLS, settled, credit " + std::to_string(o.credit),
                         ep.Rhea("earliest", log, true, o.credit)));
      report(NodeCatchUp(ep, "raw rhea, TLS, settled, credit " + std::to_string(o.small_credit),
                         ep.Rhea("earliest", log, true, o.small_credit)));
      report(StreamCatchUp(hub, log));
    }

    // 2. Latency: one device publishes at a low rate (each message waits for its PUBACK); four readers at latest
    // at once: the SDK with the batch size above, the SDK with maxBatchSize 1, raw rhea, and the event stream.
    if (o.Has("latency")) {
      std::printf("latency: %d messages at %d/s ...\n", o.latency, o.latency_rate);
      std::fflush(stdout);
      Publisher device(hub, "amqp-bench-" + std::to_string(o.devices), o.inflight);
      json sdk = ep.Sdk("latest", o.latency), sdk1 = ep.Sdk("latest", o.latency, true, 1);
      json raw = ep.Rhea("latest", o.latency, true, o.small_credit);
      sdk["latency"] = true;
      sdk1["latency"] = true;
      raw["latency"] = true;
      auto a = ep.Start(sdk, "latency"), b = ep.Start(sdk1, "latency-1"), c = ep.Start(raw, "latency-rhea");
      for (auto* r : {a.get(), b.get(), c.get()}) r->WaitLoaded();
      for (auto* r : {a.get(), b.get(), c.get()}) r->Go();
      for (auto* r : {a.get(), b.get(), c.get()}) r->WaitReady();
      StreamReader stream(hub, "latest", true);
      const auto gap = std::chrono::microseconds(1'000'000 / std::max(1, o.latency_rate));
      std::vector<std::pair<std::string, Clock::time_point>> sent;
      auto next = Clock::now();
      for (int i = 0; i < o.latency; ++i) {
        std::this_thread::sleep_until(next);  // the pacing of a low rate, not a wait for an event
        next += gap;
        const std::string id = "latency-" + std::to_string(i);
        const auto at = Clock::now();
        sent.emplace_back(id, at);
        device.SendOne(id, JsonPayload(at.time_since_epoch() / 1ns, 64));
      }
      for (auto& [id, at] : sent) {
        auto arrived = stream.ArrivalOf(id, 10s);
        if (!arrived) {
          ++sse_latency.lost;
          continue;
        }
        sse_latency.ms.push_back(std::chrono::duration<double, std::milli>(*arrived - at).count());
      }
      for (auto [reader, out] : {std::pair{a.get(), &sdk_latency}, std::pair{b.get(), &sdk1_latency},
                                 std::pair{c.get(), &rhea_latency}}) {
        const json done = reader->Finish(30s);
        out->ms = done["latenciesMs"].get<std::vector<double>>();
        out->lost = o.latency - static_cast<int>(out->ms.size());
      }
    }

    // 3. Ingest with no reader and with o.readers live SDK readers, interleaved, o.repeats times.
    if (o.Has("ingest")) {
      std::printf("ingest: %d devices x %d messages, QoS 1, %d in flight each, %d-byte payloads\n", o.devices,
                  o.messages, o.inflight, o.size);
      std::fflush(stdout);
      PublishAll(devices, 1000, payload);  // warm up after the pauses above
    }
    for (int r = 0; r < o.repeats && o.Has("ingest"); ++r) {
      for (int k = 0; k < 2; ++k) {
        const int readers = k == 0 ? 0 : o.readers;
        phases[k].push_back(Ingest(ep, devices, readers, payload));
        const IngestPhase& p = phases[k].back();
        std::printf("  %d live reader(s): %.0f msg/s; CPU per message: emulator %.1f us, readers %.1f us; "
                    "slowest reader done %.2f s after the last PUBACK%s\n",
                    readers, p.rate, p.emulator_cpu, p.readers_cpu, p.lag, p.complete ? "" : " (INCOMPLETE)");
        std::fflush(stdout);
      }
    }
  }
  if (std::getenv("AMQP_BENCH_KEEP")) {
    std::printf("kept %s\n", dir.c_str());
  } else {
    fs::remove_all(dir);
  }

  if (o.Has("catch-up")) {
    std::printf("\ncatch-up from earliest (%lld events of %d bytes; fill ran at %.0f msg/s)\n",
                static_cast<long long>(catch_ups.empty() ? 0 : catch_ups[0].events), o.size,
                catch_ups.empty() ? 0.0 : catch_ups[0].events / fill_seconds);
    std::printf("  %-42s %10s %9s %22s %22s\n", "reader", "events/s", "seconds", "emulator CPU (us/ev)",
                "reader CPU (us/ev)");
    for (const CatchUp& c : catch_ups) {
      const double per = 1e6 / static_cast<double>(std::max<int64_t>(1, c.events));
      std::printf("  %-42s %10.0f %9.2f %13.2f s (%5.1f) %13.2f s (%5.1f)%s\n", c.name.c_str(), c.events / c.seconds,
                  c.seconds, c.emulator_cpu, c.emulator_cpu * per, c.client_cpu, c.client_cpu * per,
                  c.in_order ? "" : "  (out of sequence!)");
    }
  }
  if (o.Has("latency")) {
    std::printf("publish -> reader, %d messages at %d/s (PUBLISH to the reader's handler):\n", o.latency,
                o.latency_rate);
    PrintLatency(("EventHubConsumerClient, maxBatchSize " + std::to_string(o.max_batch)).c_str(), sdk_latency,
                 o.latency);
    PrintLatency("EventHubConsumerClient, maxBatchSize 1", sdk1_latency, o.latency);
    PrintLatency("raw rhea receivers (the endpoint itself)", rhea_latency, o.latency);
    PrintLatency("event stream (SSE)", sse_latency, o.latency);
  }
  if (!o.Has("ingest")) return 0;
  std::vector<double> rates[2], emu[2], rd[2];
  bool complete = true;
  for (int k = 0; k < 2; ++k) {
    for (const IngestPhase& p : phases[k]) {
      rates[k].push_back(p.rate);
      emu[k].push_back(p.emulator_cpu);
      rd[k].push_back(p.readers_cpu);
      complete = complete && p.complete;
    }
  }
  std::printf("ingest, %d devices x %d QoS 1 messages, median of %d:\n", o.devices, o.messages, o.repeats);
  std::printf("  no reader                 %8.0f msg/s            emulator CPU %.1f us/msg\n", Median(rates[0]),
              Median(emu[0]));
  std::printf("  %d live AMQP readers       %8.0f msg/s  (%.2f)     emulator CPU %.1f us/msg, readers %.1f us/msg\n",
              o.readers, Median(rates[1]), Median(rates[1]) / Median(rates[0]), Median(emu[1]), Median(rd[1]));
  std::printf("  every live reader got every event, each partition in sequence: %s\n", complete ? "yes" : "NO");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app("The Event Hub-compatible endpoint read by the official Event Hubs SDK: catch-up, latency, ingest");
  app.add_option("--emulator", o.emulator, "iothub-emulator binary")->capture_default_str();
  app.add_option("--node", o.node, "node binary")->capture_default_str();
  app.add_option("--script", o.script, "bench/event_hub_reader.js")->capture_default_str();
  app.add_option("--node-modules", o.node_modules, "where @azure/event-hubs and rhea are")->capture_default_str();
  app.add_option("--fill", o.fill, "events in the log read from the earliest")->capture_default_str();
  app.add_option("--size", o.size, "payload bytes")->capture_default_str();
  app.add_option("--devices", o.devices, "devices publishing at once")->capture_default_str();
  app.add_option("--inflight", o.inflight, "unacknowledged messages per device")->capture_default_str();
  app.add_option("--messages", o.messages, "QoS 1 messages per device and ingest phase")->capture_default_str();
  app.add_option("--readers", o.readers, "live AMQP readers in the ingest phases")->capture_default_str();
  app.add_option("--repeats", o.repeats, "times each ingest phase runs, interleaved (median reported)")
      ->capture_default_str();
  app.add_option("--latency", o.latency, "messages for the latency figure")->capture_default_str();
  app.add_option("--latency-rate", o.latency_rate, "of them per second")->capture_default_str();
  app.add_option("--max-batch", o.max_batch, "the SDK's maxBatchSize")->capture_default_str();
  app.add_option("--max-wait", o.max_wait, "the SDK's maxWaitTimeInSeconds")->capture_default_str();
  app.add_option("--credit", o.credit, "the raw rhea receiver's credit window per partition")->capture_default_str();
  app.add_option("--small-credit", o.small_credit, "a second, small rhea credit window")->capture_default_str();
  app.add_option("--phases", o.phases, "which of catch-up, latency, ingest to run")->delimiter(',')
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!fs::exists(fs::path(o.node_modules) / "@azure/event-hubs")) {
    std::fprintf(stderr, "amqp-bench: no @azure/event-hubs in %s (run: npm ci --prefix tests/compat)\n",
                 o.node_modules.c_str());
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);  // a reader that died is reported by its missing line, not by a signal
  RaiseFileLimit();
  mosquitto_lib_init();
  try {
    const int rc = Run(o);
    mosquitto_lib_cleanup();
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "amqp-bench: %s\n", e.what());
    return 1;
  }
}
