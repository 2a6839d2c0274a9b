// The event stream endpoint over real HTTPS: Server-Sent Events from the log (issue: event stream).
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "integration/emulator_process.h"
#include "integration/mqtt_test_client.h"
#include "integration/wait_until.h"
#include "mqtt/codec/mqtt_codec.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kKey = kTestDeviceKey;

struct Frame {
  std::string id;
  json data;
};

// Reads a stream in the background until it has `want` events, it ends, or the deadline passes
// (a reader that gets what it wants returns at once: the deadline only bounds a failing test).
class SseReader {
 public:
  SseReader(const EmulatorProcess& hub, std::string path, size_t want, httplib::Headers headers = {},
            std::chrono::milliseconds deadline = 20s)
      : want_(want) {
    if (headers.find("Authorization") == headers.end()) headers.emplace("Authorization", EmulatorProcess::PolicyToken());
    thread_ = std::thread([this, &hub, path, headers, deadline] {
      auto cli = hub.Client();
      cli->set_read_timeout(deadline);
      auto until = std::chrono::steady_clock::now() + deadline;
      auto res = cli->Get(path, headers, [this, until](const char* data, size_t n) {
        std::lock_guard lock(mu_);
        buffer_.append(data, n);
        if (buffer_.find(": open") != std::string::npos) opened_ = true;
        size_t end;
        // Only the frames it wants: the server may send more in one chunk, as a reader that
        // stops after N events and resumes from the N-th's id has not seen the rest.
        while (frames_.size() < want_ && (end = buffer_.find("\n\n")) != std::string::npos) {
          std::string block = buffer_.substr(0, end);
          buffer_.erase(0, end + 2);
          Frame f;
          size_t pos = 0;
          while (pos < block.size()) {
            size_t eol = block.find('\n', pos);
            std::string line = block.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
            pos = eol == std::string::npos ? block.size() : eol + 1;
            if (line.rfind("id: ", 0) == 0) f.id = line.substr(4);
            if (line.rfind("data: ", 0) == 0) f.data = json::parse(line.substr(6));
          }
          if (!f.data.is_null()) frames_.push_back(std::move(f));
        }
        connected_ = true;
        return frames_.size() < want_ && std::chrono::steady_clock::now() < until;
      });
      if (res) status_ = res->status;
      connected_ = true;
      done_ = true;
    });
  }
  ~SseReader() { Wait(); }

  std::vector<Frame> Wait() {
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    return frames_;
  }
  // Waits until the server said the stream is live (": open", sent once it has taken its start
  // position, so every event appended from then on reaches this reader); false if it never does.
  bool WaitOpen(std::chrono::milliseconds timeout = 15s) {
    return WaitUntil([this] { return opened_ || done_; }, timeout, 5ms) && opened_;
  }
  int status() const { return status_; }
  // Events received so far.
  size_t received() {
    std::lock_guard lock(mu_);
    return frames_.size();
  }
  // True once the server said the stream is live (": open"); waits for the reader to finish.
  bool opened() {
    Wait();
    return opened_;
  }

 private:
  size_t want_;
  std::thread thread_;
  std::mutex mu_;
  std::string buffer_;
  std::vector<Frame> frames_;
  std::atomic<bool> connected_{false}, done_{false}, opened_{false};
  std::atomic<int> status_{0};
};


// A connected device that publishes acknowledged telemetry.
struct Device {
  Device(const EmulatorProcess& hub, const std::string& id) : id(id), client(hub.mqtt_port()) {
    REQUIRE(client.Connect(id, DeviceToken(id, kKey))->return_code == mqtt::ConnectReturnCode::kAccepted);
  }
  void Send(const std::string& body, const std::string& message_id) {
    client.Send(mqtt::Publish{"devices/" + id + "/messages/events/%24.mid=" + message_id, body, 1, false, false, ++packet});
    auto ack = client.Receive();
    REQUIRE(ack);
    REQUIRE(std::holds_alternative<mqtt::Puback>(*ack));
  }
  std::string id;
  MqttTestClient client;
  uint16_t packet = 0;
};

std::vector<std::string> MessageIds(const std::vector<Frame>& frames) {
  std::vector<std::string> ids;
  for (const auto& f : frames) ids.push_back(f.data["properties"]["messageId"]);
  return ids;
}

}  // namespace

TEST_CASE("Event stream: earliest replays the log in order, latest sees only what comes next") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  Device dev(hub, "dev1");
  dev.Send("a", "m1");
  dev.Send("b", "m2");

  SseReader earliest(hub, "/emulator/events/stream?from=earliest", 3);
  SseReader latest(hub, "/emulator/events/stream?from=latest", 1);
  SseReader by_default(hub, "/emulator/events/stream", 1);
  REQUIRE(latest.WaitOpen());
  REQUIRE(by_default.WaitOpen());
  dev.Send("c", "m3");

  CHECK(MessageIds(earliest.Wait()) == std::vector<std::string>{"m1", "m2", "m3"});
  CHECK(MessageIds(latest.Wait()) == std::vector<std::string>{"m3"});
  CHECK(MessageIds(by_default.Wait()) == std::vector<std::string>{"m3"});
}

TEST_CASE("Event stream: start at a sequence number or a time, filter by device and partition") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  CreateTestDevice(hub, "dev2");
  Device dev1(hub, "dev1"), dev2(hub, "dev2");
  dev1.Send("x", "d1-0");
  dev2.Send("x", "d2-0");
  dev1.Send("x", "d1-1");
  // `from` is to the millisecond: the marker is the next millisecond after d1-1 was stored (acknowledged,
  // so enqueued by now), and d1-2 is sent once the clock has reached it.
  const auto marker = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()) + 1ms;
  REQUIRE(WaitUntil([&] { return std::chrono::system_clock::now() >= marker; }, 1s, 1ms));
  dev1.Send("x", "d1-2");
  dev2.Send("x", "d2-1");

  CHECK(MessageIds(SseReader(hub, "/emulator/events/stream?from=earliest&deviceId=dev1", 3).Wait()) ==
        std::vector<std::string>{"d1-0", "d1-1", "d1-2"});
  CHECK(MessageIds(SseReader(hub, "/emulator/events/stream?from=1&deviceId=dev1", 2).Wait()) ==
        std::vector<std::string>{"d1-1", "d1-2"});

  auto t = std::chrono::system_clock::to_time_t(marker);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", std::gmtime(&t));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(marker.time_since_epoch()).count() % 1000;
  std::string from = std::string(buf) + "." + (ms < 100 ? (ms < 10 ? "00" : "0") : "") + std::to_string(ms) + "Z";
  auto since = MessageIds(SseReader(hub, "/emulator/events/stream?from=" + from, 2).Wait());
  std::sort(since.begin(), since.end());
  CHECK(since == std::vector<std::string>{"d1-2", "d2-1"});

  auto frames = SseReader(hub, "/emulator/events/stream?from=earliest", 5).Wait();
  REQUIRE(frames.size() == 5);
  const int p = frames[0].data["partition"];
  std::vector<std::string> in_p;
  for (const auto& f : frames) {
    if (f.data["partition"] == p) in_p.push_back(f.data["properties"]["messageId"]);
  }
  REQUIRE(in_p.size() < 5);  // dev1 and dev2 live in different partitions
  // The partition's events, then, once they are in, one more from its device. Had the filter let the
  // other partition's (older) events through, they would have come before that last one: so the test
  // waits for events, never for a deadline to show that none came.
  Device& in_partition = frames[0].data["annotations"]["iothub-connection-device-id"] == "dev1" ? dev1 : dev2;
  SseReader one(hub, "/emulator/events/stream?from=earliest&partition=" + std::to_string(p), in_p.size() + 1);
  CHECK(WaitUntil([&] { return one.received() >= in_p.size(); }));
  in_partition.Send("x", "last");
  in_p.push_back("last");
  auto got = one.Wait();
  CHECK(MessageIds(got) == in_p);
  for (const auto& f : got) CHECK(f.data["partition"] == p);
}

TEST_CASE("Event stream: Last-Event-ID resumes right after the last event seen") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  Device dev(hub, "dev1");
  for (int i = 0; i < 5; ++i) dev.Send("x", "m" + std::to_string(i));
  auto first = SseReader(hub, "/emulator/events/stream?from=earliest", 2).Wait();
  REQUIRE(first.size() == 2);
  auto rest = SseReader(hub, "/emulator/events/stream?from=latest", 3, {{"Last-Event-ID", first.back().id}}).Wait();
  CHECK(MessageIds(rest) == std::vector<std::string>{"m2", "m3", "m4"});
}

TEST_CASE("Event stream: dozens of live readers each get every new event while the REST API still answers") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  Device dev(hub, "dev1");
  constexpr int kReaders = 30;
  std::vector<std::unique_ptr<SseReader>> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.push_back(std::make_unique<SseReader>(hub, "/emulator/events/stream?from=latest", 2));
  }
  for (auto& r : readers) REQUIRE(r->WaitOpen());
  auto t0 = std::chrono::steady_clock::now();
  CHECK(hub.Get("/devices/dev1")->status == 200);  // not starved by the open streams...
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);  // ...which, starved, it would wait for (20 s)
  dev.Send("x", "live-1");
  dev.Send("x", "live-2");
  for (auto& r : readers) CHECK(MessageIds(r->Wait()) == std::vector<std::string>{"live-1", "live-2"});
}

TEST_CASE("Event stream: streams beyond the cap are refused, and readers that leave free their place") {
  EmulatorProcess hub({"--max-event-streams", "3"});
  // Three readers that open a stream and hang up at once.
  for (int i = 0; i < 3; ++i) CHECK(SseReader(hub, "/emulator/events/stream", 0).opened());
  // Until the server notices (two keep-alives, within 4 s) their places are taken...
  auto refused = hub.Get("/emulator/events/stream");
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(ErrorCodeOf(refused) == "ServiceUnavailable");
  CHECK(hub.Get("/devices")->status == 200);  // and the REST API still answers
  // ...then they are free again: each new stream (which hangs up too) takes a place one of them left.
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK(WaitUntil([&] { return SseReader(hub, "/emulator/events/stream", 0).opened(); }, 15s, 200ms));
  }
}

TEST_CASE("Event stream: refusals are IoT Hub errors") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  struct Case {
    const char* name;
    std::string path;
    httplib::Headers headers;
    int status;
  };
  const Case cases[] = {
      {"registryRead has no ServiceConnect", "/emulator/events/stream",
       {{"Authorization", EmulatorProcess::PolicyToken("registryRead", "P86A3ZPhPNuea+fgHNi5z6Ume9BDT6b6IyjXNHuR488=")}},
       401},
      {"a device token", "/emulator/events/stream", {{"Authorization", DeviceToken("dev1", kKey)}}, 401},
      {"an unknown start", "/emulator/events/stream?from=yesterday", {}, 400},
      {"a partition that does not exist", "/emulator/events/stream?partition=9", {}, 400},
      {"a Last-Event-ID it never gave", "/emulator/events/stream", {{"Last-Event-ID", "7:1"}}, 400},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    httplib::Headers headers = c.headers;
    auto res = hub.Get(c.path, headers);
    REQUIRE(res);
    CHECK(res->status == c.status);
    CHECK_FALSE(ErrorCodeOf(res).empty());
  }
  auto anonymous = hub.Client()->Get("/emulator/events/stream");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
}

}  // namespace iothub::testing
