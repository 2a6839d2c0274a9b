// The bundled C++ device client against the real emulator: telemetry with
// confirmations, and no message lost when the hub goes away and comes back.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "integration/emulator_process.h"
#include "integration/wait_until.h"
#include "iothub/device_client.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kKey = kTestDeviceKey;


client::DeviceConnectionString Connection(const std::string& id, int mqtt_port) {
  return client::DeviceConnectionString::Parse("HostName=localhost:" + std::to_string(mqtt_port) + ";DeviceId=" + id +
                                               ";SharedAccessKey=" + kKey);
}

client::DeviceClientOptions Options() {
  client::DeviceClientOptions o;
  o.ca_file = TestCaPath();
  o.initial_backoff = 100ms;
  o.max_backoff = 1s;
  return o;
}

}  // namespace

TEST_CASE("Device client: each message is confirmed once the hub stored it, with its properties") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "cpp-dev");
  client::DeviceClient device(Connection("cpp-dev", hub.mqtt_port()), Options());
  device.Open();
  REQUIRE(device.WaitConnected(10s));
  std::atomic<int> confirmed{0};
  for (int i = 0; i < 10; ++i) {
    client::Message m{R"({"n":)" + std::to_string(i) + "}", "id-" + std::to_string(i), "corr", "application/json",
                      "utf-8", {{"k", "v " + std::to_string(i)}}};
    device.SendEvent(m, [&](bool ok) { confirmed += ok; });
  }
  device.Close();
  CHECK(confirmed == 10);
  json events = json::parse(hub.Get("/emulator/events?deviceId=cpp-dev")->body);
  REQUIRE(events.size() == 10);
  for (int i = 0; i < 10; ++i) {
    CHECK(events[i]["properties"]["messageId"] == "id-" + std::to_string(i));
    CHECK(events[i]["properties"]["correlationId"] == "corr");
    CHECK(events[i]["body"]["n"] == i);
    CHECK(events[i]["applicationProperties"]["k"] == "v " + std::to_string(i));
  }
}

TEST_CASE("Device client: messages queued while the hub is down are delivered when it is back") {
  const std::string dir = FreshDataDir("client-reconnect");
  int mqtt_port = 0, https_port = 0;
  {
    EmulatorProcess hub({}, dir);
    CreateTestDevice(hub, "cpp-dev");
    mqtt_port = hub.mqtt_port();
    https_port = hub.https_port();
    hub.Stop();
  }
  client::DeviceClient device(Connection("cpp-dev", mqtt_port), Options());
  std::atomic<int> confirmed{0}, failed_attempts{0};
  device.OnConnectionStatus([&](const client::ConnectionStatus& s) { failed_attempts += !s.connected; });
  device.Open();
  for (int i = 0; i < 5; ++i) {
    device.SendEvent({"x", "offline-" + std::to_string(i), {}, {}, {}, {}}, [&](bool ok) { confirmed += ok; });
  }
  CHECK(WaitUntil([&] { return failed_attempts >= 3; }));  // several failed attempts with back-off...
  CHECK(confirmed == 0);                                    // ...and every message still waiting
  CHECK(device.pending() == 5);

  // The same ports again, as a restarted hub would have.
  EmulatorProcess hub({"--https-port", std::to_string(https_port), "--mqtt-port", std::to_string(mqtt_port)}, dir);
  REQUIRE(device.WaitConnected(10s));
  CHECK(WaitUntil([&] { return confirmed == 5; }));
  device.Close();
  json events = json::parse(hub.Get("/emulator/events?deviceId=cpp-dev", {})->body);
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(e["properties"]["messageId"]);
  CHECK(ids == std::set<std::string>{"offline-0", "offline-1", "offline-2", "offline-3", "offline-4"});
}

TEST_CASE("Device client: renews its SAS token before it expires and keeps sending") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "renewing");
  auto options = Options();
  options.token_lifetime = std::chrono::seconds(62);  // renewed 60 s before expiry: about 2 s after connecting
  client::DeviceClient device(Connection("renewing", hub.mqtt_port()), options);
  std::atomic<int> connects{0}, renewals{0};
  device.OnConnectionStatus([&](const client::ConnectionStatus& s) {
    if (s.connected) connects++;
    if (s.reason.find("renewing") != std::string::npos) renewals++;
  });
  device.Open();
  REQUIRE(device.WaitConnected(10s));
  std::atomic<int> confirmed{0};
  auto send = [&](int i) {
    device.SendEvent({"x", "r-" + std::to_string(i), {}, {}, {}, {}}, [&](bool ok) { confirmed += ok; });
  };
  for (int i = 0; i < 3; ++i) send(i);
  CHECK(WaitUntil([&] { return confirmed == 3; }));
  // The renewal: a new connection with a fresh token, then sending goes on.
  CHECK(WaitUntil([&] { return renewals >= 1 && connects >= 2; }, 15s));
  for (int i = 3; i < 6; ++i) send(i);
  CHECK(WaitUntil([&] { return confirmed == 6; }));
  device.Close();
  CHECK(renewals >= 1);
  CHECK(connects >= 2);
  CHECK(confirmed == 6);
  CHECK(json::parse(hub.Get("/emulator/events?deviceId=renewing")->body).size() == 6);
}

TEST_CASE("Device client: method handlers, cloud-to-device messages and the twin") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "full");
  client::DeviceClient device(Connection("full", hub.mqtt_port()), Options());
  std::mutex mu;
  std::vector<client::ReceivedMessage> messages;
  std::vector<std::string> desired;
  device.OnMethod([](const std::string& name, const std::string& payload) {
    return client::MethodResponse{name == "double" ? 200 : 404,
                                  name == "double" ? std::to_string(2 * json::parse(payload).get<int>()) : "null"};
  });
  device.OnMessage([&](const client::ReceivedMessage& m) {
    std::lock_guard lock(mu);
    messages.push_back(m);
  });
  device.OnDesiredProperties([&](const std::string& patch) {
    std::lock_guard lock(mu);
    desired.push_back(patch);
  });
  device.Open();
  REQUIRE(device.WaitConnected(10s));
  // The SUBSCRIBEs go out right after CONNACK, before this request on the same connection, and the hub
  // handles a connection's packets in order: once it answers, the device listens for everything.
  REQUIRE(device.GetTwin(5s));

  auto call = hub.Post("/twins/full/methods", R"({"methodName":"double","payload":21})");
  REQUIRE(call);
  CHECK(json::parse(call->body) == json{{"status", 200}, {"payload", 42}});
  CHECK(json::parse(hub.Post("/twins/full/methods", R"({"methodName":"other"})")->body)["status"] == 404);

  REQUIRE(hub.Post("/emulator/devices/full/messages",
                   json{{"body", "hello"}, {"messageId", "c1"}, {"properties", {{"k", "v w"}}}}.dump())->status == 200);
  REQUIRE(device.UpdateReportedProperties(R"({"interval":5})", 5s));
  auto twin = device.GetTwin(5s);
  REQUIRE(twin);
  CHECK(json::parse(*twin)["reported"]["interval"] == 5);
  hub.Client()->Patch("/twins/full", {{"Authorization", EmulatorProcess::PolicyToken()}, {"If-Match", "*"}},
                      R"({"properties":{"desired":{"interval":10}}})", "application/json");
  CHECK(WaitUntil([&] {
    std::lock_guard lock(mu);
    return !messages.empty() && !desired.empty();
  }));
  // The client acknowledges the message on receipt; the hub counts it done once that PUBACK is in,
  // which is waited for while the connection is still open.
  CHECK(WaitUntil([&] { return json::parse(hub.Get("/devices/full")->body)["cloudToDeviceMessageCount"] == 0; }));
  device.Close();
  std::lock_guard lock(mu);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].body == "hello");
  CHECK(messages[0].message_id == "c1");
  CHECK(messages[0].properties == std::vector<std::pair<std::string, std::string>>{{"k", "v w"}});
  REQUIRE(desired.size() == 1);
  CHECK(json::parse(desired[0])["interval"] == 10);
}

}  // namespace iothub::testing
