// The bundled C++ device client against the real emulator: telemetry with
// confirmations, and no message lost when the hub goes away and comes back.
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>

#include "integration/emulator_process.h"
#include "iothub/device_client.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kKey = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=";

void CreateDevice(const EmulatorProcess& hub, const std::string& id) {
  json body = {{"authentication", {{"symmetricKey", {{"primaryKey", kKey}, {"secondaryKey", kKey}}}}}};
  REQUIRE(hub.Put("/devices/" + id, body.dump())->status == 200);
}

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
  CreateDevice(hub, "cpp-dev");
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
    CreateDevice(hub, "cpp-dev");
    mqtt_port = hub.mqtt_port();
    https_port = hub.https_port();
    hub.Stop();
  }
  client::DeviceClient device(Connection("cpp-dev", mqtt_port), Options());
  std::atomic<int> confirmed{0};
  device.Open();
  for (int i = 0; i < 5; ++i) {
    device.SendEvent({"x", "offline-" + std::to_string(i), {}, {}, {}, {}}, [&](bool ok) { confirmed += ok; });
  }
  std::this_thread::sleep_for(1500ms);  // several failed attempts with back-off
  CHECK(confirmed == 0);
  CHECK(device.pending() == 5);

  // The same ports again, as a restarted hub would have.
  EmulatorProcess hub({"--https-port", std::to_string(https_port), "--mqtt-port", std::to_string(mqtt_port)}, dir);
  REQUIRE(device.WaitConnected(10s));
  for (int i = 0; i < 100 && confirmed < 5; ++i) std::this_thread::sleep_for(50ms);
  CHECK(confirmed == 5);
  device.Close();
  json events = json::parse(hub.Get("/emulator/events?deviceId=cpp-dev", {})->body);
  std::set<std::string> ids;
  for (const auto& e : events) ids.insert(e["properties"]["messageId"]);
  CHECK(ids == std::set<std::string>{"offline-0", "offline-1", "offline-2", "offline-3", "offline-4"});
}

TEST_CASE("Device client: renews its SAS token before it expires and keeps sending") {
  EmulatorProcess hub;
  CreateDevice(hub, "renewing");
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
  for (int i = 0; i < 6; ++i) {
    device.SendEvent({"x", "r-" + std::to_string(i), {}, {}, {}, {}}, [&](bool ok) { confirmed += ok; });
    std::this_thread::sleep_for(600ms);
  }
  device.Close();
  CHECK(renewals >= 1);
  CHECK(connects >= 2);
  CHECK(confirmed == 6);
  CHECK(json::parse(hub.Get("/emulator/events?deviceId=renewing")->body).size() == 6);
}

}  // namespace iothub::testing
