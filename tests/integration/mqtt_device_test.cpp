// The device MQTT endpoint over real TLS: sign-in, telemetry into the event log,
// and IoT Hub's rules for misbehaving clients (spec §2).
#include <doctest/doctest.h>
#include <mosquitto.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "integration/emulator_process.h"
#include "integration/mqtt_test_client.h"
#include "integration/wait_until.h"
#include "mqtt/codec/mqtt_codec.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using mqtt::ConnectReturnCode;

const std::string kKeyA = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=";
const std::string kKeyB = "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=";
const std::string kDevicePolicyKey = "kMV6vdJRIMnwaA8ZeMlGmjphOCm7oHAMyKDqWtmmJn0=";
const std::string kRegistryReadKey = "P86A3ZPhPNuea+fgHNi5z6Ume9BDT6b6IyjXNHuR488=";

void CreateDevice(const EmulatorProcess& hub, const std::string& id, const std::string& status = "enabled") {
  json body = {{"deviceId", id},
               {"status", status},
               {"authentication", {{"symmetricKey", {{"primaryKey", kKeyA}, {"secondaryKey", kKeyB}}}}}};
  auto res = hub.Put("/devices/" + id, body.dump());
  REQUIRE(res);
  REQUIRE(res->status == 200);
}

json Events(const EmulatorProcess& hub, const std::string& device_id) {
  auto res = hub.Get("/emulator/events?max=1000&deviceId=" + device_id);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return json::parse(res->body);
}

json Device(const EmulatorProcess& hub, const std::string& id) { return json::parse(hub.Get("/devices/" + id)->body); }

// Publishes at QoS 1 and waits for the PUBACK.
void PublishAcked(MqttTestClient& client, const std::string& topic, const std::string& payload, uint16_t id = 1,
                  bool retain = false) {
  client.Send(mqtt::Publish{topic, payload, 1, retain, false, id});
  auto ack = client.Receive();
  REQUIRE(ack);
  REQUIRE(std::holds_alternative<mqtt::Puback>(*ack));
  CHECK(std::get<mqtt::Puback>(*ack).packet_id == id);
}


}  // namespace

TEST_CASE("MQTT sign-in: device keys and device-capable policies are accepted, and the registry shows the connection") {
  EmulatorProcess hub;
  CreateDevice(hub, "dev1");
  struct Case {
    const char* name;
    std::string token;
  };
  const Case cases[] = {
      {"primary key", DeviceToken("dev1", kKeyA)},
      {"secondary key", DeviceToken("dev1", kKeyB)},
      {"device policy", PolicyDeviceToken("dev1", "device", kDevicePolicyKey)},
      {"iothubowner policy", PolicyDeviceToken("dev1", "iothubowner", kOwnerKey)},
      {"host with a port", DeviceToken("dev1", kKeyA, 3600, "localhost:8883")},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    MqttTestClient client(hub.mqtt_port());
    auto connack = client.Connect("dev1", c.token);
    REQUIRE(connack);
    CHECK(connack->return_code == ConnectReturnCode::kAccepted);
    CHECK(Device(hub, "dev1")["connectionState"] == "Connected");
    CHECK(json::parse(hub.Get("/statistics/service")->body)["connectedDeviceCount"] == 1);
    client.Send(mqtt::Disconnect{});
    CHECK(client.WaitClosed());
  }
  // The hub closed the last connection itself (WaitClosed); the registry follows on its own time.
  CHECK(WaitUntil([&] { return Device(hub, "dev1")["connectionState"] == "Disconnected"; }));
  json device = Device(hub, "dev1");
  CHECK(device["connectionState"] == "Disconnected");
  CHECK(device["lastActivityTime"] != "0001-01-01T00:00:00Z");
  CHECK(device["connectionStateUpdatedTime"] != "0001-01-01T00:00:00Z");
  CHECK(json::parse(hub.Get("/statistics/service")->body)["connectedDeviceCount"] == 0);
}

TEST_CASE("MQTT sign-in: every bad credential is refused with a CONNACK code, then the connection closes") {
  EmulatorProcess hub;
  CreateDevice(hub, "dev1");
  CreateDevice(hub, "dev2");
  CreateDevice(hub, "off", "disabled");
  struct Case {
    const char* name;
    std::string client_id;
    std::optional<std::string> username;
    std::optional<std::string> password;
    uint8_t level;
    ConnectReturnCode expected;
  };
  const std::string user1 = "localhost/dev1/?api-version=2021-04-12";
  const Case cases[] = {
      {"unknown device", "ghost", "localhost/ghost/?api-version=2021-04-12", DeviceToken("ghost", kKeyA), 4,
       ConnectReturnCode::kNotAuthorized},
      {"unknown device with a policy token", "ghost", "localhost/ghost/?api-version=2021-04-12",
       PolicyDeviceToken("ghost", "device", kDevicePolicyKey), 4, ConnectReturnCode::kNotAuthorized},
      {"disabled device", "off", "localhost/off/?api-version=2021-04-12", DeviceToken("off", kKeyA), 4,
       ConnectReturnCode::kNotAuthorized},
      {"wrong key", "dev1", user1, DeviceToken("dev1", kDevicePolicyKey), 4, ConnectReturnCode::kNotAuthorized},
      {"expired token", "dev1", user1, DeviceToken("dev1", kKeyA, -5), 4, ConnectReturnCode::kNotAuthorized},
      {"token for another device", "dev1", user1, DeviceToken("dev2", kKeyA), 4, ConnectReturnCode::kNotAuthorized},
      {"token for another host", "dev1", user1, DeviceToken("dev1", kKeyA, 3600, "other.azure-devices.net"), 4,
       ConnectReturnCode::kNotAuthorized},
      {"policy without DeviceConnect", "dev1", user1, PolicyDeviceToken("dev1", "registryRead", kRegistryReadKey), 4,
       ConnectReturnCode::kNotAuthorized},
      {"client id is not the user name's device", "dev2", user1, DeviceToken("dev1", kKeyA), 4,
       ConnectReturnCode::kNotAuthorized},
      {"user name for another host", "dev1", "elsewhere/dev1/?api-version=2021-04-12", DeviceToken("dev1", kKeyA), 4,
       ConnectReturnCode::kNotAuthorized},
      {"not a SAS token", "dev1", user1, "hunter2", 4, ConnectReturnCode::kNotAuthorized},
      {"no password", "dev1", user1, std::nullopt, 4, ConnectReturnCode::kBadUserNameOrPassword},
      {"no user name", "dev1", std::nullopt, std::nullopt, 4, ConnectReturnCode::kBadUserNameOrPassword},
      {"MQTT 3.1", "dev1", user1, DeviceToken("dev1", kKeyA), 3, ConnectReturnCode::kUnacceptableProtocolVersion},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    MqttTestClient client(hub.mqtt_port());
    mqtt::Connect connect;
    connect.client_id = c.client_id;
    connect.username = c.username;
    connect.password = c.password;
    connect.protocol_level = c.level;
    if (c.level == 3) connect.protocol_name = "MQIsdp";
    client.Send(connect);
    auto reply = client.Receive();
    REQUIRE(reply);
    REQUIRE(std::holds_alternative<mqtt::Connack>(*reply));
    CHECK(std::get<mqtt::Connack>(*reply).return_code == c.expected);
    CHECK(client.WaitClosed());
  }
  CHECK(json::parse(hub.Get("/statistics/service")->body)["connectedDeviceCount"] == 0);
}

TEST_CASE("MQTT with mosquitto_pub --cafile over TLS: a good token publishes, a bad one is not authorised") {
  EmulatorProcess hub;
  CreateDevice(hub, "cli-dev");
  const std::string base = "mosquitto_pub -h localhost -p " + std::to_string(hub.mqtt_port()) + " --cafile " +
                           TestCaPath() + " -i cli-dev -u 'localhost/cli-dev/?api-version=2021-04-12' -q 1 ";
  auto [ok_status, ok_output] =
      RunCommand(base + "-P '" + DeviceToken("cli-dev", kKeyA) + "' -t 'devices/cli-dev/messages/events/%24.mid=from-cli' -m hello");
  CAPTURE(ok_output);
  CHECK(ok_status == 0);
  json events = Events(hub, "cli-dev");
  REQUIRE(events.size() == 1);
  CHECK(events[0]["body"] == "hello");
  CHECK(events[0]["properties"]["messageId"] == "from-cli");

  auto [bad_status, bad_output] = RunCommand(base + "-P '" + DeviceToken("cli-dev", kDevicePolicyKey) + "' -t t -m x");
  CHECK(bad_status != 0);
  CHECK(bad_output.find("not authorised") != std::string::npos);
}

TEST_CASE("MQTT telemetry: properties and IoT Hub's annotations are in the event log") {
  EmulatorProcess hub;
  CreateDevice(hub, "dev1");
  const std::string generation = Device(hub, "dev1")["generationId"];
  MqttTestClient client(hub.mqtt_port());
  mqtt::Connect c;
  c.client_id = "dev1";
  c.username = "localhost/dev1/?api-version=2021-04-12&model-id=dtmi:com:example:Thermostat;1";
  c.password = DeviceToken("dev1", kKeyA);
  client.Send(c);
  REQUIRE(client.Receive());
  PublishAcked(client,
               "devices/dev1/messages/events/%24.mid=m-1&%24.cid=c%201&%24.ct=application%2Fjson&%24.ce=utf-8&"
               "%24.sub=thermostat1&alert=high%20temp",
               R"({"temperature":21.5})", 7, /*retain=*/true);
  client.Send(mqtt::Publish{"devices/dev1/messages/events/", std::string("\xff\x00\x01", 3), 0, false, false, 0});
  PublishAcked(client, "devices/dev1/messages/events/n=3", "third", 8);  // QoS 0 before it is stored before it, too

  json events = Events(hub, "dev1");
  REQUIRE(events.size() == 3);
  json e = events[0];
  CHECK(e["body"] == json{{"temperature", 21.5}});
  CHECK(e["properties"] == json{{"messageId", "m-1"}, {"correlationId", "c 1"}, {"contentType", "application/json"},
                                {"contentEncoding", "utf-8"}});
  CHECK(e["applicationProperties"] == json{{"alert", "high temp"}, {"mqtt-retain", "true"}});
  CHECK(e["annotations"]["iothub-connection-device-id"] == "dev1");
  CHECK(e["annotations"]["iothub-connection-auth-generation-id"] == generation);
  CHECK(json::parse(e["annotations"]["iothub-connection-auth-method"].get<std::string>()) ==
        json{{"scope", "device"}, {"type", "sas"}, {"issuer", "iothub"}, {"acceptingIpFilterRule", nullptr}});
  CHECK(e["annotations"]["iothub-message-source"] == "Telemetry");
  CHECK(e["annotations"]["dt-dataschema"] == "dtmi:com:example:Thermostat;1");
  CHECK(e["annotations"]["dt-subject"] == "thermostat1");
  CHECK(events[1]["bodyEncoding"] == "base64");
  CHECK(events[1]["body"] == "/wAB");
  CHECK(events[1]["sequenceNumber"].get<int>() == e["sequenceNumber"].get<int>() + 1);
  CHECK(events[2]["body"] == "third");
}

TEST_CASE("MQTT: a new connection for the same device drops the older one") {
  EmulatorProcess hub;
  CreateDevice(hub, "dev1");
  MqttTestClient first(hub.mqtt_port());
  REQUIRE(first.Connect("dev1", DeviceToken("dev1", kKeyA))->return_code == ConnectReturnCode::kAccepted);
  MqttTestClient second(hub.mqtt_port());
  REQUIRE(second.Connect("dev1", DeviceToken("dev1", kKeyB))->return_code == ConnectReturnCode::kAccepted);
  CHECK(first.WaitClosed());
  second.Send(mqtt::Pingreq{});
  auto pong = second.Receive();
  REQUIRE(pong);
  CHECK(std::holds_alternative<mqtt::Pingresp>(*pong));
  CHECK(Device(hub, "dev1")["connectionState"] == "Connected");
  CHECK(json::parse(hub.Get("/statistics/service")->body)["connectedDeviceCount"] == 1);
}

TEST_CASE("MQTT: keep-alive is enforced at 1.5 times the client's value and traffic keeps a connection open") {
  EmulatorProcess hub;
  CreateDevice(hub, "quiet");
  CreateDevice(hub, "chatty");
  MqttTestClient quiet(hub.mqtt_port());
  MqttTestClient chatty(hub.mqtt_port());
  REQUIRE(quiet.Connect("quiet", DeviceToken("quiet", kKeyA), /*keep_alive=*/2)->return_code ==
          ConnectReturnCode::kAccepted);
  REQUIRE(chatty.Connect("chatty", DeviceToken("chatty", kKeyA), 2)->return_code == ConnectReturnCode::kAccepted);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i) {  // 4 s of pings, each well within the allowance (the pause paces the traffic)
    chatty.Send(mqtt::Pingreq{});
    REQUIRE(chatty.Receive());
    std::this_thread::sleep_for(500ms);
  }
  CHECK(quiet.WaitClosed(1s));  // long closed by now...
  CHECK_FALSE(chatty.closed());
  (void)start;

  MqttTestClient timed(hub.mqtt_port());
  // From before the CONNECT: the hub cannot start counting earlier, however late the CONNACK reaches us.
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(timed.Connect("quiet", DeviceToken("quiet", kKeyA), 2)->return_code == ConnectReturnCode::kAccepted);
  CHECK(timed.WaitClosed(6s));
  auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 2900ms);  // ...but not before 1.5 x 2 s
  CHECK(waited < 4500ms);
}

TEST_CASE("MQTT: the connection ends when its SAS token expires") {
  EmulatorProcess hub;
  CreateDevice(hub, "dev1");
  MqttTestClient client(hub.mqtt_port());
  REQUIRE(client.Connect("dev1", DeviceToken("dev1", kKeyA, 2), 0)->return_code == ConnectReturnCode::kAccepted);
  CHECK(client.WaitClosed(5s));
}

TEST_CASE("MQTT: QoS 2, foreign topics, bad subscriptions, oversized and malformed packets close that connection only") {
  EmulatorProcess hub;
  CreateDevice(hub, "dev1");
  CreateDevice(hub, "bystander");
  MqttTestClient bystander(hub.mqtt_port());
  REQUIRE(bystander.Connect("bystander", DeviceToken("bystander", kKeyA))->return_code == ConnectReturnCode::kAccepted);

  struct Case {
    const char* name;
    std::string bytes;
  };
  const Case cases[] = {
      {"PUBLISH QoS 2", mqtt::Encode(mqtt::Publish{"devices/dev1/messages/events/", "x", 2, false, false, 1})},
      {"another device's topic", mqtt::Encode(mqtt::Publish{"devices/bystander/messages/events/", "x", 1, false, false, 1})},
      {"a topic outside IoT Hub's", mqtt::Encode(mqtt::Publish{"sensors/temperature", "x", 0, false, false, 0})},
      {"SUBSCRIBE to everything", mqtt::Encode(mqtt::Subscribe{1, {{"#", 0}}})},
      {"SUBSCRIBE to another device's C2D", mqtt::Encode(mqtt::Subscribe{1, {{"devices/bystander/messages/devicebound/#", 1}}})},
      {"a message over 256 KiB", mqtt::Encode(mqtt::Publish{"devices/dev1/messages/events/", std::string(256 * 1024 + 1, 'x'), 1, false, false, 1})},
      {"a malformed packet", std::string("\x30\x04\x00\x02\x61\x23", 6)},
      {"a second CONNECT", mqtt::Encode(mqtt::Connect{})},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    MqttTestClient client(hub.mqtt_port());
    REQUIRE(client.Connect("dev1", DeviceToken("dev1", kKeyA))->return_code == ConnectReturnCode::kAccepted);
    client.SendRaw(c.bytes);
    CHECK(client.WaitClosed());
  }
  CHECK(Events(hub, "dev1").empty());
  CHECK(Events(hub, "bystander").empty());
  bystander.Send(mqtt::Pingreq{});
  CHECK(bystander.Receive());  // untouched by all of that

  MqttTestClient big(hub.mqtt_port());
  REQUIRE(big.Connect("dev1", DeviceToken("dev1", kKeyA))->return_code == ConnectReturnCode::kAccepted);
  PublishAcked(big, "devices/dev1/messages/events/", std::string(256 * 1024, 'x'));  // exactly the limit is fine
  CHECK(Events(hub, "dev1").size() == 1);
}

TEST_CASE("MQTT sessions: subscriptions outlive a connection with CleanSession=0 and QoS 2 is granted as 1") {
  EmulatorProcess hub;
  CreateDevice(hub, "dev1");
  {
    MqttTestClient client(hub.mqtt_port());
    auto connack = client.Connect("dev1", DeviceToken("dev1", kKeyA), 60, /*clean_session=*/false);
    CHECK_FALSE(connack->session_present);
    client.Send(mqtt::Subscribe{3, {{"devices/dev1/messages/devicebound/#", 2}, {"$iothub/methods/POST/#", 0}}});
    auto suback = client.Receive();
    REQUIRE(suback);
    CHECK(std::get<mqtt::Suback>(*suback).return_codes == std::vector<uint8_t>{1, 0});
    client.Send(mqtt::Disconnect{});
  }
  {
    MqttTestClient client(hub.mqtt_port());
    CHECK(client.Connect("dev1", DeviceToken("dev1", kKeyA), 60, false)->session_present);
  }
  {
    MqttTestClient client(hub.mqtt_port());
    CHECK_FALSE(client.Connect("dev1", DeviceToken("dev1", kKeyA), 60, /*clean_session=*/true)->session_present);
  }
  MqttTestClient client(hub.mqtt_port());
  CHECK_FALSE(client.Connect("dev1", DeviceToken("dev1", kKeyA), 60, false)->session_present);  // clean discarded it
}

TEST_CASE("MQTT wills: stored as telemetry when a device vanishes, not when it says goodbye") {
  EmulatorProcess hub;
  CreateDevice(hub, "dev1");
  mqtt::Will will{"devices/dev1/messages/events/%24.mid=last-words&reason=lost", "offline", 1, false};
  {
    MqttTestClient polite(hub.mqtt_port());
    REQUIRE(polite.Connect("dev1", DeviceToken("dev1", kKeyA), 60, true, will)->return_code ==
            ConnectReturnCode::kAccepted);
    polite.Send(mqtt::Disconnect{});
    CHECK(polite.WaitClosed());
  }
  MqttTestClient crashing(hub.mqtt_port());
  REQUIRE(crashing.Connect("dev1", DeviceToken("dev1", kKeyA), 60, true, will)->return_code ==
          ConnectReturnCode::kAccepted);
  crashing.Abort();
  json events;
  CHECK(WaitUntil([&] { return !(events = Events(hub, "dev1")).empty(); }));
  REQUIRE(events.size() == 1);  // the will of the crash only, none of the goodbye
  CHECK(events[0]["body"] == "offline");
  CHECK(events[0]["properties"]["messageId"] == "last-words");
  CHECK(events[0]["applicationProperties"]["iothub-MessageType"] == "Will");
  CHECK(events[0]["applicationProperties"]["reason"] == "lost");
}

TEST_CASE("MQTT durability: every message libmosquitto saw acknowledged is in the log after a restart") {
  const std::string dir = FreshDataDir("mqtt-durable");
  constexpr int kMessages = 300;
  std::string generation;
  {
    EmulatorProcess hub({}, dir);
    CreateDevice(hub, "dev1");
    generation = Device(hub, "dev1")["generationId"];

    mosquitto_lib_init();
    mosquitto* m = mosquitto_new("dev1", true, nullptr);
    REQUIRE(m);
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_username_pw_set(m, "localhost/dev1/?api-version=2021-04-12", DeviceToken("dev1", kKeyA).c_str());
    REQUIRE(mosquitto_tls_set(m, TestCaPath().c_str(), nullptr, nullptr, nullptr, nullptr) == MOSQ_ERR_SUCCESS);
    static std::atomic<int> acked;
    acked = 0;
    mosquitto_publish_callback_set(m, [](mosquitto*, void*, int) { acked++; });
    REQUIRE(mosquitto_connect(m, "localhost", hub.mqtt_port(), 60) == MOSQ_ERR_SUCCESS);
    REQUIRE(mosquitto_loop_start(m) == MOSQ_ERR_SUCCESS);
    for (int i = 0; i < kMessages; ++i) {
      std::string topic = "devices/dev1/messages/events/%24.mid=m" + std::to_string(i) + "&n=" + std::to_string(i);
      std::string payload = R"({"n":)" + std::to_string(i) + "}";
      REQUIRE(mosquitto_publish(m, nullptr, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1,
                                false) == MOSQ_ERR_SUCCESS);
    }
    CHECK(WaitUntil([&] { return acked == kMessages; }, 30s));
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    CHECK(hub.Stop() == 0);
  }
  EmulatorProcess hub({}, dir);
  json events = Events(hub, "dev1");
  REQUIRE(events.size() == kMessages);
  for (int i = 0; i < kMessages; ++i) {
    CAPTURE(i);
    CHECK(events[i]["properties"]["messageId"] == "m" + std::to_string(i));
    CHECK(events[i]["applicationProperties"]["n"] == std::to_string(i));
    CHECK(events[i]["body"] == "{\"n\":" + std::to_string(i) + "}");
    CHECK(events[i]["sequenceNumber"] == events[0]["sequenceNumber"].get<int>() + i);
    CHECK(events[i]["annotations"]["iothub-connection-auth-generation-id"] == generation);
  }
  CHECK(Device(hub, "dev1")["connectionState"] == "Disconnected");
}

}  // namespace iothub::testing
