// reader-bench: how live readers of the event log affect device-to-cloud ingest,
// on an empty log and on one holding a million events, in one run: ingest with
// no reader, 1 and 4 live event-stream readers; a reader catching up from the
// earliest event; and publish-to-reader latency at a low rate. Prints figures;
// asserts nothing (see bench/README.md).
#include <mosquitto.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <httplib.h>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include "bench_clients.h"
#include "bench_support.h"
#include "core/event_reader.h"
#include "http/event_json.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_event_store.h"

using namespace bench;
using namespace std::chrono_literals;

namespace {

struct Options {
  std::string emulator = "build/iothub-emulator";
  int messages = 30000;     // per ingest phase
  int repeats = 3;          // of the 0/1/4-reader phases, interleaved; the median counts
  int size = 120;           // payload bytes
  int inflight = 100;       // unacknowledged messages per publisher
  int fill = 1'000'000;     // events in the log for the second round
  int latency = 200;        // messages for the latency figure
  int latency_rate = 50;    // of them per second
};

struct Phase {
  double rate = 0;         // messages/s until the last PUBACK
  double emulator_cpu = 0;  // the emulator's CPU time per message, µs (its readers' share included)
  double client_cpu = 0;    // this process' (publisher and reader clients), µs per message
  double readers_lag = 0;  // seconds after the last PUBACK until the slowest reader had every event
  bool readers_complete = true;
};

// Each figure's median over the runs; readers complete only if they were in every run.
Phase Median(const std::vector<Phase>& runs) {
  auto median = [&](double Phase::*field) {
    std::vector<double> values;
    for (const Phase& p : runs) values.push_back(p.*field);
    return Percentile(values, 0.5);
  };
  Phase m;
  m.rate = median(&Phase::rate);
  m.emulator_cpu = median(&Phase::emulator_cpu);
  m.client_cpu = median(&Phase::client_cpu);
  m.readers_lag = median(&Phase::readers_lag);
  for (const Phase& p : runs) m.readers_complete = m.readers_complete && p.readers_complete;
  return m;
}

double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

Phase Ingest(const Emulator& hub, Publisher& publisher, int readers, int n, const std::string& payload) {
  std::vector<std::unique_ptr<StreamReader>> open;
  for (int i = 0; i < readers; ++i) open.push_back(std::make_unique<StreamReader>(hub, "latest"));
  Phase phase;
  const double emulator_cpu = ProcCpuSeconds(hub.pid), client_cpu = SelfCpuSeconds();
  const double seconds = publisher.Send(n, payload);
  const auto acked = Clock::now();
  phase.rate = n / seconds;
  for (auto& r : open) {
    auto done = r->WaitFor(n, 120s);
    if (!done) {
      phase.readers_complete = false;
      continue;
    }
    phase.readers_lag = std::max(phase.readers_lag, std::chrono::duration<double>(*done - acked).count());
  }
  // Until every reader had every event: a reader's work may trail the last PUBACK.
  phase.emulator_cpu = (ProcCpuSeconds(hub.pid) - emulator_cpu) * 1e6 / n;
  phase.client_cpu = (SelfCpuSeconds() - client_cpu) * 1e6 / n;
  return phase;
}

// The core reader alone, in this process, over the log the emulator left: every event
// from the earliest, as the Event Hubs endpoint will read them; and again with each
// event written as the event stream's JSON.
struct CoreCatchUp {
  int64_t events = 0;
  double seconds = 0, seconds_with_json = 0;
};

CoreCatchUp ReadWholeLog(const fs::path& database) {
  iothub::storage::SqliteDatabase db(database.string());
  iothub::storage::SqliteEventStore store(db);
  iothub::EventLog log(store, {4, std::chrono::hours(24 * 365), 4096, {}});
  CoreCatchUp out;
  for (bool json : {false, true}) {
    iothub::EventReader reader(log, std::vector<int64_t>(log.partition_count(), 0));
    int64_t events = 0;
    size_t bytes = 0;
    const auto start = Clock::now();
    for (auto batch = reader.Read(1000, 0ms); !batch.empty(); batch = reader.Read(1000, 0ms)) {
      events += static_cast<int64_t>(batch.size());
      if (json) {
        for (const auto& e : batch) bytes += iothub::http::EventToJsonText(*e).size();
      }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    out.events = events;
    (json ? out.seconds_with_json : out.seconds) = seconds;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app("Event log readers against device-to-cloud ingest: 0, 1 and 4 live readers, empty and large log");
  app.add_option("--emulator", o.emulator, "iothub-emulator binary")->capture_default_str();
  app.add_option("--messages", o.messages, "QoS 1 messages per ingest phase")->capture_default_str();
  app.add_option("--size", o.size, "payload bytes")->capture_default_str();
  app.add_option("--repeats", o.repeats, "times each 0/1/4-reader phase runs, interleaved (median reported)")
      ->capture_default_str();
  app.add_option("--inflight", o.inflight, "unacknowledged messages per publisher")->capture_default_str();
  app.add_option("--fill", o.fill, "events in the log for the second round")->capture_default_str();
  app.add_option("--latency", o.latency, "messages for the latency figure")->capture_default_str();
  app.add_option("--latency-rate", o.latency_rate, "of them per second")->capture_default_str();
  std::string read_log;
  app.add_option("--read-log", read_log, "only time the core reader over this iothub.db");
  CLI11_PARSE(app, argc, argv);
  if (!read_log.empty()) {
    const CoreCatchUp core = ReadWholeLog(read_log);
    std::printf("%lld events: %.0f events/s, %.0f with JSON\n", static_cast<long long>(core.events),
                core.events / core.seconds, core.events / core.seconds_with_json);
    return 0;
  }
  RaiseFileLimit();
  mosquitto_lib_init();

  const fs::path dir = fs::temp_directory_path() / ("iothub-reader-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::system((o.emulator + " --data-dir " + dir.string() + " --generate-certs > /dev/null").c_str());
  std::printf("reader-bench: one publisher, QoS 1 over TLS, %d in flight, %d-byte payloads, %d messages a phase,\n"
              "each phase %d times, interleaved (the median counts);\n"
              "readers are GET /emulator/events/stream?from=latest\n\n",
              o.inflight, o.size, o.messages, o.repeats);
  const std::string payload(o.size, 'x');

  Phase rounds[2][3];
  int64_t log_size[2] = {0, 0};
  double catch_up_seconds = 0;
  int64_t catch_up_events = 0;
  std::vector<double> latency_ms;
  int latency_lost = 0;
  {
    Emulator hub(o.emulator, dir, false);
    hub.CreateDevices("reader-bench-", 5);
    Publisher publisher(hub, "reader-bench-0", o.inflight);
    publisher.Send(2000, payload);  // warm up: TLS session, SQLite pages, allocator
    int64_t total = 2000;
    const int reader_counts[3] = {0, 1, 4};
    for (int round = 0; round < 2; ++round) {
      if (round == 1 && total < o.fill) {
        // Fill the log to o.fill events from four devices at once.
        std::printf("filling the log to %d events ...\n", o.fill);
        std::fflush(stdout);
        const int64_t missing = o.fill - total, each = (missing + 3) / 4;
        std::vector<std::thread> fillers;
        for (int d = 1; d <= 4; ++d) {
          fillers.emplace_back([&, d] {
            Publisher filler(hub, "reader-bench-" + std::to_string(d), o.inflight);
            filler.Send(static_cast<int>(each), payload);
          });
        }
        for (auto& t : fillers) t.join();
        total += each * 4;
      }
      log_size[round] = total;
      // Phases interleaved and repeated: this machine's speed drifts (shared cores), and a
      // drift then moves every phase alike instead of one phase's figure.
      std::vector<Phase> runs[3];
      for (int r = 0; r < o.repeats; ++r) {
        for (int k = 0; k < 3; ++k) {
          runs[k].push_back(Ingest(hub, publisher, reader_counts[k], o.messages, payload));
          total += o.messages;
          std::printf("  log %lld, %d reader(s): %.0f msg/s, CPU per message: emulator %.1f us, bench %.1f us\n",
                      static_cast<long long>(log_size[round]), reader_counts[k], runs[k].back().rate,
                      runs[k].back().emulator_cpu, runs[k].back().client_cpu);
          std::fflush(stdout);
        }
      }
      for (int k = 0; k < 3; ++k) rounds[round][k] = Median(runs[k]);
    }

    // A reader from the earliest event, with nothing else going on.
    {
      const auto start = Clock::now();
      StreamReader reader(hub, "earliest");
      auto done = reader.WaitFor(total, 600s);
      catch_up_events = reader.events();
      catch_up_seconds = std::chrono::duration<double>((done ? *done : Clock::now()) - start).count();
    }

    // Latency at a low rate: each message's arrival on a live reader after its PUBLISH.
    {
      StreamReader reader(hub, "latest", true);
      const auto gap = std::chrono::microseconds(1'000'000 / std::max(1, o.latency_rate));
      auto next = Clock::now();
      for (int i = 0; i < o.latency; ++i) {
        std::this_thread::sleep_until(next);  // the pacing of a low rate, not a wait for an event
        next += gap;
        const std::string id = "latency-" + std::to_string(i);
        const auto sent = Clock::now();
        publisher.SendOne(id);
        auto arrived = reader.ArrivalOf(id, 10s);
        if (!arrived) {
          ++latency_lost;
          continue;
        }
        latency_ms.push_back(std::chrono::duration<double, std::milli>(*arrived - sent).count());
      }
    }
  }
  mosquitto_lib_cleanup();
  const CoreCatchUp core = ReadWholeLog(dir / "iothub.db");
  if (std::getenv("READER_BENCH_KEEP")) {
    std::printf("kept %s\n", dir.c_str());
  } else {
    fs::remove_all(dir);
  }

  std::printf("\n%-30s", "phase");
  for (int round = 0; round < 2; ++round) {
    std::printf(" | log of %-9lld msg/s  vs none", static_cast<long long>(log_size[round]));
  }
  std::printf("\n");
  const char* names[3] = {"ingest, no reader", "ingest with 1 live reader", "ingest with 4 live readers"};
  for (int k = 0; k < 3; ++k) {
    std::printf("%-30s", names[k]);
    for (int round = 0; round < 2; ++round) {
      const Phase& p = rounds[round][k];
      std::printf(" | %23.0f %7.2f", p.rate, p.rate / rounds[round][0].rate);
    }
    std::printf("\n");
  }
  std::printf("%-30s", "CPU per message, us");
  for (int round = 0; round < 2; ++round) std::printf(" | %16s %14s", "emulator", "bench clients");
  std::printf("\n");
  for (int k = 0; k < 3; ++k) {
    std::printf("%-30s", names[k]);
    for (int round = 0; round < 2; ++round) {
      std::printf(" | %16.1f %14.1f", rounds[round][k].emulator_cpu, rounds[round][k].client_cpu);
    }
    std::printf("\n");
  }
  for (int round = 0; round < 2; ++round) {
    for (int k = 1; k < 3; ++k) {
      const Phase& p = rounds[round][k];
      if (!p.readers_complete) std::printf("note: a reader missed events (log %lld, %s)\n",
                                           static_cast<long long>(log_size[round]), names[k]);
    }
  }
  std::printf("slowest reader done after the last PUBACK: %.3f / %.3f s (1 reader), %.3f / %.3f s (4 readers)\n",
              rounds[0][1].readers_lag, rounds[1][1].readers_lag, rounds[0][2].readers_lag, rounds[1][2].readers_lag);
  std::printf("\ncatch-up from earliest, %lld events:\n", static_cast<long long>(core.events));
  std::printf("  core reader (EventReader, in process)          %8.2f s = %8.0f events/s\n", core.seconds,
              core.events / core.seconds);
  std::printf("  core reader + event-stream JSON of each event  %8.2f s = %8.0f events/s\n", core.seconds_with_json,
              core.events / core.seconds_with_json);
  std::printf("  event stream (GET ...?from=earliest, TLS)      %8.2f s = %8.0f events/s  (%lld events)\n",
              catch_up_seconds, catch_up_events / catch_up_seconds, static_cast<long long>(catch_up_events));
  std::printf("publish -> live reader, %zu messages at %d/s: p50 %.2f ms  p99 %.2f ms  max %.2f ms%s\n",
              latency_ms.size(), o.latency_rate, Percentile(latency_ms, 0.5), Percentile(latency_ms, 0.99),
              Percentile(latency_ms, 1.0), latency_lost ? " (some never arrived)" : "");
  return 0;
}
