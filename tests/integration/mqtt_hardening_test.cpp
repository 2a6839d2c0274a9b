// The device MQTT endpoint against careless and hostile clients (issue: hardening):
// what arrives with the close is processed, strangers cannot make it hold memory,
// and QoS 1 is acknowledged on every topic a device may publish to.
#include <doctest/doctest.h>

#include <fstream>
#include <future>
#include <thread>

#include "integration/emulator_process.h"
#include "integration/mqtt_test_client.h"
#include "integration/wait_until.h"
#include "mqtt/codec/mqtt_codec.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

json Events(const EmulatorProcess& hub, const std::string& device_id) {
  auto res = hub.Get("/emulator/events?max=1000&deviceId=" + device_id);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return json::parse(res->body);
}

// The device's events once there are `want` of them, or what there is at the deadline.
json EventsOnceThere(const EmulatorProcess& hub, const std::string& device_id, size_t want,
                     std::chrono::milliseconds deadline = 10s) {
  json events;
  WaitUntil([&] { return (events = Events(hub, device_id)).size() >= want; }, deadline);
  return events;
}

mqtt::Connect ConnectPacket(const std::string& device_id, std::optional<mqtt::Will> will = std::nullopt) {
  mqtt::Connect c;
  c.client_id = device_id;
  c.username = "localhost/" + device_id + "/?api-version=2021-04-12";
  c.password = DeviceToken(device_id, kTestDeviceKey);
  c.keep_alive_seconds = 60;
  c.will = std::move(will);
  return c;
}

// A CONNECT's fixed header announcing `length` bytes to come, and none of them.
std::string ConnectHeader(size_t length) {
  std::string b(1, '\x10');
  do {
    uint8_t digit = length % 128;
    length /= 128;
    b.push_back(static_cast<char>(digit | (length > 0 ? 0x80 : 0)));
  } while (length > 0);
  return b;
}

template <typename T>
bool Is(const std::optional<mqtt::Packet>& p) {
  return p && std::holds_alternative<T>(*p);
}

}  // namespace

TEST_CASE("MQTT close: a PUBLISH and DISCONNECT that arrive with the close are stored, every time") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "closer");
  constexpr int kRuns = 40;
  for (int i = 0; i < kRuns; ++i) {
    MqttTestClient client(hub.mqtt_port());
    client.SendAndClose(mqtt::Encode(ConnectPacket("closer")) +
                        mqtt::Encode(mqtt::Publish{"devices/closer/messages/events/n=" + std::to_string(i),
                                                   "m" + std::to_string(i), 0, false, false, 0}) +
                        mqtt::Encode(mqtt::Disconnect{}));
    CHECK(client.WaitClosed(5s));  // the server closes its side once it has read everything
  }
  CHECK(EventsOnceThere(hub, "closer", kRuns).size() == kRuns);
}

TEST_CASE("MQTT close: 40 separate mosquitto_pub -q 0 runs store 40 messages") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "pub0");
  const std::string base = "mosquitto_pub -h localhost -p " + std::to_string(hub.mqtt_port()) + " --cafile " +
                           TestCaPath() + " -i pub0 -u 'localhost/pub0/?api-version=2021-04-12' -q 0 -P '" +
                           DeviceToken("pub0", kTestDeviceKey) + "' -t 'devices/pub0/messages/events/' -m ";
  constexpr int kRuns = 40;
  for (int i = 0; i < kRuns; ++i) {
    auto [status, output] = RunCommand(base + "m" + std::to_string(i));
    CAPTURE(output);
    REQUIRE(status == 0);
  }
  json events = EventsOnceThere(hub, "pub0", kRuns);
  CHECK(events.size() == kRuns);
}

TEST_CASE("MQTT will: a clean DISCONNECT discards it even when the close comes with it, a dropped connection publishes it") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "willing");
  const std::string topic = "devices/willing/messages/events/";
  constexpr int kClean = 20;
  for (int i = 0; i < kClean; ++i) {
    MqttTestClient client(hub.mqtt_port());
    auto connack = client.Connect("willing", DeviceToken("willing", kTestDeviceKey), 60, true,
                                  mqtt::Will{topic, "clean-" + std::to_string(i), 0, false});
    REQUIRE(connack);
    REQUIRE(connack->return_code == mqtt::ConnectReturnCode::kAccepted);
    client.SendAndClose(mqtt::Encode(mqtt::Disconnect{}));
    CHECK(client.WaitClosed(5s));
  }
  MqttTestClient dropped(hub.mqtt_port());
  REQUIRE(dropped.Connect("willing", DeviceToken("willing", kTestDeviceKey), 60, true,
                          mqtt::Will{topic, "dropped", 0, false}));
  dropped.Abort();
  // The dropped session's will is the last thing this device does: once it is there, any other would be too.
  json events = EventsOnceThere(hub, "willing", 1);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["body"] == "dropped");
  CHECK(events[0]["applicationProperties"]["iothub-MessageType"] == "Will");
}

TEST_CASE("MQTT before sign-in: a CONNECT announcing more than 64 KiB is cut off at once, not after the timeout") {
  EmulatorProcess hub;
  for (size_t announced : {size_t{315 * 1024}, size_t{65 * 1024}}) {
    CAPTURE(announced);
    MqttTestClient client(hub.mqtt_port());
    auto started = std::chrono::steady_clock::now();
    client.SendRaw(ConnectHeader(announced) + std::string(1000, 'x'));
    CHECK(client.WaitClosed(5s));
    CHECK(std::chrono::steady_clock::now() - started < 3s);  // the handshake timeout is 10 s
  }
  // A real CONNECT still works, with a will of some KB.
  CreateTestDevice(hub, "fine");
  MqttTestClient client(hub.mqtt_port());
  auto connack = client.Connect("fine", DeviceToken("fine", kTestDeviceKey), 60, true,
                                mqtt::Will{"devices/fine/messages/events/", std::string(8000, 'w'), 0, false});
  REQUIRE(connack);
  CHECK(connack->return_code == mqtt::ConnectReturnCode::kAccepted);
}

TEST_CASE("MQTT before sign-in: connections waiting to sign in are capped, and each holds little memory") {
  EmulatorProcess hub({"--mqtt-max-pending", "40"});
  CreateTestDevice(hub, "member");
  const size_t rss_before = RssKiB(hub.pid());
  REQUIRE(rss_before > 0);
  // Each holds a partial CONNECT of 60 KiB, just under the cap.
  std::vector<std::unique_ptr<MqttTestClient>> strangers;
  for (int i = 0; i < 40; ++i) {
    strangers.push_back(std::make_unique<MqttTestClient>(hub.mqtt_port()));
    strangers.back()->SendRaw(ConnectHeader(63 * 1024) + std::string(60 * 1024, 'x'));
  }
  // One more is closed during or right after its handshake.
  bool refused = false;
  try {
    MqttTestClient extra(hub.mqtt_port());
    refused = extra.WaitClosed(5s);
  } catch (const std::exception&) {
    refused = true;
  }
  CHECK(refused);
  const size_t rss_held = RssKiB(hub.pid());
  CAPTURE(rss_before);
  CAPTURE(rss_held);
#ifndef __SANITIZE_ADDRESS__  // ASan's shadow memory and quarantine make RSS say nothing there
  CHECK(rss_held < rss_before + 40 * 128);  // under 128 KiB each, TLS included
#endif

  // When strangers leave, a device signs in again (the server frees the places as it sees them go).
  strangers.clear();
  CHECK(WaitUntil([&] {
    try {
      MqttTestClient device(hub.mqtt_port());
      auto connack = device.Connect("member", DeviceToken("member", kTestDeviceKey));
      return connack && connack->return_code == mqtt::ConnectReturnCode::kAccepted;
    } catch (const std::exception&) {
      return false;
    }
  }));
}

TEST_CASE("MQTT QoS 1: twin GET, reported PATCH and method responses are acknowledged with PUBACK") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "acker");
  MqttTestClient device(hub.mqtt_port());
  REQUIRE(device.Connect("acker", DeviceToken("acker", kTestDeviceKey)));
  device.Send(mqtt::Subscribe{1, {{"$iothub/twin/res/#", 0}, {"$iothub/methods/POST/#", 0}}});
  REQUIRE(Is<mqtt::Suback>(device.Receive()));

  // Each QoS 1 request gets its PUBACK and its answer, in whichever order.
  auto expect = [&](uint16_t packet_id, const std::string& answer_prefix) {
    bool acked = false, answered = false;
    for (int i = 0; i < 2; ++i) {
      auto p = device.Receive(5s);
      REQUIRE(p);
      if (auto* ack = std::get_if<mqtt::Puback>(&*p)) acked = ack->packet_id == packet_id;
      if (auto* pub = std::get_if<mqtt::Publish>(&*p)) answered = pub->topic.rfind(answer_prefix, 0) == 0;
    }
    CHECK(acked);
    CHECK(answered);
  };
  device.Send(mqtt::Publish{"$iothub/twin/GET/?$rid=1", "", 1, false, false, 11});
  expect(11, "$iothub/twin/res/200/?$rid=1");
  device.Send(mqtt::Publish{"$iothub/twin/PATCH/properties/reported/?$rid=2", R"({"a":1})", 1, false, false, 12});
  expect(12, "$iothub/twin/res/204/?$rid=2");

  auto invoked = std::async(std::launch::async, [&hub] {
    return hub.Post("/twins/acker/methods", R"({"methodName":"ping","payload":{},"responseTimeoutInSeconds":10})");
  });
  auto request = device.Receive(10s);
  REQUIRE(Is<mqtt::Publish>(request));
  const std::string& topic = std::get<mqtt::Publish>(*request).topic;
  const std::string rid = topic.substr(topic.find("$rid=") + 5);
  device.Send(mqtt::Publish{"$iothub/methods/res/200/?$rid=" + rid, R"({"pong":true})", 1, false, false, 13});
  auto ack = device.Receive(5s);
  REQUIRE(Is<mqtt::Puback>(ack));
  CHECK(std::get<mqtt::Puback>(*ack).packet_id == 13);
  auto res = invoked.get();
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(json::parse(res->body)["payload"]["pong"] == true);
}

TEST_CASE("Direct method: an answer that is not JSON, or not even UTF-8, reaches the caller as a string, not a 500") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "odd");
  MqttTestClient device(hub.mqtt_port());
  REQUIRE(device.Connect("odd", DeviceToken("odd", kTestDeviceKey)));
  device.Send(mqtt::Subscribe{1, {{"$iothub/methods/POST/#", 0}}});
  REQUIRE(Is<mqtt::Suback>(device.Receive()));
  for (const std::string& answer : {std::string("plain words"), std::string("\xff\xfe bytes")}) {
    CAPTURE(answer);
    auto invoked = std::async(std::launch::async, [&hub] {
      return hub.Post("/twins/odd/methods", R"({"methodName":"m","responseTimeoutInSeconds":10})");
    });
    auto request = device.Receive(10s);
    REQUIRE(Is<mqtt::Publish>(request));
    const std::string& topic = std::get<mqtt::Publish>(*request).topic;
    device.Send(mqtt::Publish{"$iothub/methods/res/200/?$rid=" + topic.substr(topic.find("$rid=") + 5), answer, 0,
                              false, false, 0});
    auto res = invoked.get();
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(json::parse(res->body)["payload"].is_string());
  }
  CHECK(json::parse(hub.Get("/health")->body).is_object());
}

TEST_CASE("MQTT SUBSCRIBE asking for QoS 3 is malformed: the connection closes (MQTT 3.1.1 3.8.3-4)") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "qos3");
  MqttTestClient device(hub.mqtt_port());
  REQUIRE(device.Connect("qos3", DeviceToken("qos3", kTestDeviceKey)));
  // SUBSCRIBE, packet id 1, one filter asking QoS 3; our encoder would not write it.
  const std::string filter = "devices/qos3/messages/devicebound/#";
  std::string body = std::string("\x00\x01", 2) + char(0) + char(filter.size()) + filter + char(3);
  device.SendRaw(std::string(1, '\x82') + char(body.size()) + body);
  CHECK(device.WaitClosed(5s));
}

TEST_CASE("iothub monitor exits 2 (hub unreachable) when the emulator dies mid-stream") {
  auto hub = std::make_unique<EmulatorProcess>();
  CreateTestDevice(*hub, "watched");
  const std::string out = FreshDataDir("monitor-dies") + "/out.txt";
  auto monitor = std::async(std::launch::async, [&] {
    return RunCommand("timeout 60 env IOTHUB_CONNECTION_STRING='HostName=localhost;SharedAccessKeyName=iothubowner;"
                      "SharedAccessKey=" + std::string(kOwnerKey) + "' " IOTHUB_CLI " --ca " + TestCaPath() +
                      " --https-port " + std::to_string(hub->https_port()) +
                      " monitor watched --from earliest --json -t 50 > " + out + " 2>&1");
  });
  // Once the monitor printed an event, it is mid-stream.
  MqttTestClient device(hub->mqtt_port());
  REQUIRE(device.Connect("watched", DeviceToken("watched", kTestDeviceKey)));
  device.Send(mqtt::Publish{"devices/watched/messages/events/", "first", 1, false, false, 1});
  REQUIRE(Is<mqtt::Puback>(device.Receive()));
  REQUIRE(WaitUntil([&] {
    std::ifstream in(out);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.find("first") != std::string::npos;
  }));
  hub->Kill();
  REQUIRE(monitor.wait_for(30s) == std::future_status::ready);
  auto [status, ignored] = monitor.get();
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CAPTURE(text);
  CHECK(status == 2);
}

}  // namespace iothub::testing
