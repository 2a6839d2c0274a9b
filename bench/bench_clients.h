// The clients the reader benches share: a libmosquitto device publishing QoS 1
// telemetry, and a reader of GET /emulator/events/stream. Figures only.
#pragma once

#include <mosquitto.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <httplib.h>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "bench_support.h"

namespace bench {

// One libmosquitto device connection publishing QoS 1 telemetry over TLS.
class Publisher {
 public:
  Publisher(const Emulator& hub, const std::string& device_id, int inflight);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Publishes n messages as fast as the window allows; seconds until the last PUBACK.
  double Send(int n, const std::string& payload);
  // Publishes one message with a message id and waits for its PUBACK (10 s at most).
  void SendOne(const std::string& message_id, const std::string& payload = "0123456789abcdef");

 private:
  int64_t Acked();
  template <class F>
  void Signal(F f);

  mosquitto* m_ = nullptr;
  const std::string topic_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool connected_ = false;
  int64_t acked_ = 0;
  int last_mid_ = -1;
};

// A client of GET /emulator/events/stream on its own thread: counts events, and with
// `record`, notes when each message id arrived.
class StreamReader {
 public:
  StreamReader(const Emulator& hub, const std::string& from, bool record = false);
  ~StreamReader();
  StreamReader(const StreamReader&) = delete;
  StreamReader& operator=(const StreamReader&) = delete;

  // Waits until `count` events have arrived; the time it happened, or nullopt after `timeout`.
  std::optional<Clock::time_point> WaitFor(int64_t count, std::chrono::seconds timeout);
  std::optional<Clock::time_point> ArrivalOf(const std::string& message_id, std::chrono::seconds timeout);
  int64_t events();

 private:
  bool OnData(const char* data, size_t n);

  httplib::SSLClient client_;
  const bool record_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  std::string buffer_;
  int64_t events_ = 0;
  Clock::time_point reached_{};
  std::map<std::string, Clock::time_point> arrived_;
};

}  // namespace bench
