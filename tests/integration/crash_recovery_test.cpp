// kill -9 during QoS 1 telemetry: a PUBACK is a promise that the message is in
// the durable log, so after a crash and a restart on the same data directory
// every acknowledged message is there exactly once and nothing is duplicated.
// IOTHUB_CRASH_TRIALS=N runs N crashes (3 by default), each on the log the last
// one left behind.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include "integration/emulator_process.h"
#include "integration/mqtt_test_client.h"
#include "mqtt/codec/mqtt_codec.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kDevices = 4;
constexpr size_t kInFlight = 32;  // unacknowledged QoS 1 messages per connection

int Trials() {
  const char* text = std::getenv("IOTHUB_CRASH_TRIALS");
  int trials = text ? std::atoi(text) : 0;
  return trials > 0 ? trials : 3;
}

std::string DeviceName(int i) { return "crash-dev" + std::to_string(i); }

// One device on its own TLS connection, publishing QoS 1 with kInFlight messages
// unacknowledged, until the connection ends or the deadline passes. Each message
// id (also its body) is unique in the whole test. Touches no doctest macro: it
// runs on its own thread; the test checks what it recorded once it has finished.
class Publisher {
 public:
  Publisher(int port, std::string device_id, std::string id_prefix)
      : device_id_(std::move(device_id)), prefix_(std::move(id_prefix)), client_(port) {
    auto connack = client_.Connect(device_id_, DeviceToken(device_id_, kTestDeviceKey));
    connected_ = connack && connack->return_code == mqtt::ConnectReturnCode::kAccepted;
  }
  ~Publisher() { Join(); }

  bool connected() const { return connected_; }
  void Start(std::atomic<int>& total_acked, Clock::time_point deadline) {
    thread_ = std::thread([this, &total_acked, deadline] { Run(total_acked, deadline); });
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  const std::string& device_id() const { return device_id_; }
  const std::string& stream() const { return prefix_; }
  const std::vector<std::string>& sent() const { return sent_; }
  const std::vector<std::string>& acked() const { return acked_; }
  const std::vector<std::string>& errors() const { return errors_; }
  bool ended_by_close() const { return ended_by_close_; }

 private:
  void Run(std::atomic<int>& total_acked, Clock::time_point deadline) {
    std::unordered_map<uint16_t, size_t> in_flight;  // packet id → index in sent_
    uint16_t packet_id = 0;
    while (Clock::now() < deadline) {
      while (in_flight.size() < kInFlight) {
        do ++packet_id; while (packet_id == 0 || in_flight.count(packet_id));
        std::string id = prefix_ + "-" + std::to_string(sent_.size());
        client_.Send(mqtt::Publish{"devices/" + device_id_ + "/messages/events/%24.mid=" + id, id, 1, false, false,
                                   packet_id});
        in_flight[packet_id] = sent_.size();
        sent_.push_back(std::move(id));
      }
      auto packet = client_.Receive(200ms);
      if (!packet) {
        if (client_.closed()) {
          ended_by_close_ = true;
          return;
        }
        continue;
      }
      auto* puback = std::get_if<mqtt::Puback>(&*packet);
      if (!puback) {
        errors_.push_back("a packet that is not a PUBACK");
        continue;
      }
      auto it = in_flight.find(puback->packet_id);
      if (it == in_flight.end()) {
        errors_.push_back("a PUBACK for packet " + std::to_string(puback->packet_id) + ", not in flight");
        continue;
      }
      acked_.push_back(sent_[it->second]);
      in_flight.erase(it);
      ++total_acked;
    }
  }

  std::string device_id_;
  std::string prefix_;
  MqttTestClient client_;
  bool connected_ = false;
  std::thread thread_;
  // Written by the thread only, read after Join.
  std::vector<std::string> sent_;
  std::vector<std::string> acked_;
  std::vector<std::string> errors_;
  bool ended_by_close_ = false;
};

// The whole log, partition by partition, through GET /emulator/events.
std::vector<json> ReadLog(const EmulatorProcess& hub) {
  std::vector<json> events;
  for (int partition = 0;; ++partition) {
    int64_t from = 0;
    while (true) {
      auto res = hub.Get("/emulator/events?max=1000&partition=" + std::to_string(partition) +
                         "&fromSequenceNumber=" + std::to_string(from));
      REQUIRE(res);
      if (res->status == 400 && partition > 0) return events;  // past the last partition
      REQUIRE(res->status == 200);
      json page = json::parse(res->body);
      if (page.empty()) break;
      for (auto& e : page) events.push_back(std::move(e));
      from = events.back()["sequenceNumber"].get<int64_t>() + 1;
    }
  }
}

// What the test sent: by whom, and where in that connection's sequence.
struct SentMessage {
  std::string device_id;
  std::string stream;  // one connection's messages, in the order it sent them
  size_t index = 0;
};

struct LogCheck {
  size_t acked_missing = 0;      // acknowledged, not in the log: lost
  size_t duplicated = 0;         // in the log more than once
  size_t unknown = 0;            // in the log, never sent
  size_t out_of_order = 0;       // a device's messages not in the order it sent them
  size_t sequence_problems = 0;  // a partition's sequence numbers not strictly increasing by one
};

// Compares the log with everything sent and acknowledged so far.
LogCheck CheckLog(const std::vector<json>& events, const std::map<std::string, SentMessage>& sent,
                  const std::set<std::string>& acked) {
  LogCheck check;
  std::map<std::string, int> seen;
  std::map<std::string, size_t> last_index;  // stream → send index of its last message in the log
  std::map<int, int64_t> last_sequence;      // partition → sequence number
  for (const json& e : events) {
    const int partition = e["partition"];
    const int64_t sequence = e["sequenceNumber"];
    if (last_sequence.count(partition) && sequence != last_sequence[partition] + 1) ++check.sequence_problems;
    last_sequence[partition] = sequence;

    const std::string id = e["properties"].value("messageId", "");
    if (++seen[id] > 1) ++check.duplicated;
    auto it = sent.find(id);
    if (it == sent.end() || e["body"] != id ||
        e["annotations"]["iothub-connection-device-id"] != it->second.device_id) {
      ++check.unknown;
      continue;
    }
    const SentMessage& m = it->second;
    if (last_index.count(m.stream) && m.index <= last_index[m.stream]) ++check.out_of_order;
    last_index[m.stream] = m.index;
  }
  for (const auto& id : acked) {
    if (!seen.count(id)) ++check.acked_missing;
  }
  return check;
}

// Publishes one message on a new connection and waits for its PUBACK, as a user
// checks a restarted hub.
void PublishOne(const EmulatorProcess& hub, const std::string& device_id, const std::string& id) {
  MqttTestClient client(hub.mqtt_port());
  auto connack = client.Connect(device_id, DeviceToken(device_id, kTestDeviceKey));
  REQUIRE(connack);
  REQUIRE(connack->return_code == mqtt::ConnectReturnCode::kAccepted);
  client.Send(mqtt::Publish{"devices/" + device_id + "/messages/events/%24.mid=" + id, id, 1, false, false, 1});
  auto ack = client.Receive();
  REQUIRE(ack);
  REQUIRE(std::holds_alternative<mqtt::Puback>(*ack));
  client.Send(mqtt::Disconnect{});
}

}  // namespace

TEST_CASE("Crash recovery: after kill -9 during QoS 1 telemetry every acknowledged message is in the log once") {
  const int trials = Trials();
  const std::string dir = FreshDataDir("crash");

  std::map<std::string, SentMessage> sent;  // by message id
  std::set<std::string> acked;
  auto hub = std::make_unique<EmulatorProcess>(std::vector<std::string>{}, dir);
  for (int d = 0; d < kDevices; ++d) CreateTestDevice(*hub, DeviceName(d));

  for (int trial = 0; trial < trials; ++trial) {
    CAPTURE(trial);
    const auto started = Clock::now();
    // Crash at a different point each trial, always mid-stream.
    const int kill_after = 500 + (trial * 677) % 1500;

    std::vector<std::unique_ptr<Publisher>> publishers;
    for (int d = 0; d < kDevices; ++d) {
      publishers.push_back(std::make_unique<Publisher>(hub->mqtt_port(), DeviceName(d),
                                                       "t" + std::to_string(trial) + "-d" + std::to_string(d)));
      REQUIRE(publishers.back()->connected());
    }
    std::atomic<int> total_acked{0};
    const auto deadline = Clock::now() + 20s;
    for (auto& p : publishers) p->Start(total_acked, deadline);
    const auto wait_until = Clock::now() + 15s;
    while (total_acked < kill_after && Clock::now() < wait_until) std::this_thread::sleep_for(1ms);
    const int acked_at_kill = total_acked;
    CHECK(hub->Kill() == 128 + SIGKILL);
    for (auto& p : publishers) p->Join();
    REQUIRE_MESSAGE(acked_at_kill >= kill_after, "only " << acked_at_kill << " PUBACKs in 15 s");

    size_t trial_sent = 0, trial_acked = 0;
    for (auto& p : publishers) {
      CAPTURE(p->device_id());
      CHECK(p->errors().empty());
      CHECK(p->ended_by_close());  // the crash ended it, not the deadline
      for (size_t i = 0; i < p->sent().size(); ++i) sent[p->sent()[i]] = {p->device_id(), p->stream(), i};
      acked.insert(p->acked().begin(), p->acked().end());
      trial_sent += p->sent().size();
      trial_acked += p->acked().size();
      CHECK(p->acked().size() > 0);  // every connection had acknowledged traffic
    }
    CHECK(trial_sent > trial_acked);  // messages were in flight when it died

    hub = std::make_unique<EmulatorProcess>(std::vector<std::string>{}, dir);
    auto health = hub->Client()->Get("/health");
    REQUIRE(health);
    CHECK(health->status == 200);

    const std::vector<json> events = ReadLog(*hub);
    const LogCheck check = CheckLog(events, sent, acked);
    CHECK(check.acked_missing == 0);
    CHECK(check.duplicated == 0);
    CHECK(check.unknown == 0);
    CHECK(check.out_of_order == 0);
    CHECK(check.sequence_problems == 0);
    CHECK(events.size() >= acked.size());

    // Nobody is connected after a crash, and a new connection works and appends.
    CHECK(json::parse(hub->Get("/statistics/service")->body)["connectedDeviceCount"] == 0);
    CHECK(json::parse(hub->Get("/devices/" + DeviceName(0))->body)["connectionState"] == "Disconnected");
    int64_t last_sequence = -1;
    const int partition = [&] {
      for (const json& e : events) {
        if (e["annotations"]["iothub-connection-device-id"] == DeviceName(0)) return e["partition"].get<int>();
      }
      return -1;
    }();
    REQUIRE(partition >= 0);
    for (const json& e : events) {
      if (e["partition"] == partition) last_sequence = std::max(last_sequence, e["sequenceNumber"].get<int64_t>());
    }
    const std::string after_id = "t" + std::to_string(trial) + "-after";
    PublishOne(*hub, DeviceName(0), after_id);
    auto appended = hub->Get("/emulator/events?partition=" + std::to_string(partition) +
                             "&fromSequenceNumber=" + std::to_string(last_sequence + 1));
    REQUIRE(appended);
    REQUIRE(appended->status == 200);
    json after = json::parse(appended->body);
    REQUIRE(after.size() == 1);  // right after the recovered log: no committed number reused, none skipped
    CHECK(after[0]["properties"]["messageId"] == after_id);
    CHECK(after[0]["sequenceNumber"].get<int64_t>() == last_sequence + 1);
    sent[after_id] = {DeviceName(0), after_id, 0};
    acked.insert(after_id);

    size_t logged_unacked = 0;
    for (const json& e : events) {
      const std::string id = e["properties"].value("messageId", "");
      if (id.starts_with("t" + std::to_string(trial) + "-d") && !acked.count(id)) ++logged_unacked;
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    MESSAGE("trial " << trial << ": sent " << trial_sent << ", acked " << trial_acked << " (kill after "
                     << acked_at_kill << "), committed without PUBACK " << logged_unacked << ", lost "
                     << check.acked_missing << ", duplicated " << check.duplicated << ", log " << events.size()
                     << " events, " << ms << " ms");
  }
}

}  // namespace iothub::testing
