// Deeply nested JSON through every path that takes JSON from outside (issue: hardening).
// A body of 100,000 nested arrays (~200 KB, under every size limit) used to overflow
// the stack: now each is a 400 in IoT Hub's form, and a stored event of any shape is
// read back as data by every reader, after a restart too.
#include <doctest/doctest.h>

#include <string>

#include "integration/emulator_process.h"
#include "integration/mqtt_test_client.h"
#include "mqtt/codec/mqtt_codec.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string Nested(int depth, const std::string& open = "[", const std::string& close = "]") {
  std::string s;
  s.reserve(depth * (open.size() + close.size()) + 1);
  for (int i = 0; i < depth; ++i) s += open;
  s += "1";
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

const std::string kDeep = Nested(100000);  // ~200 KB

httplib::Result Patch(const EmulatorProcess& hub, const std::string& path, const std::string& body) {
  return hub.Client()->Patch(path, {{"Authorization", EmulatorProcess::PolicyToken()}}, body, "application/json");
}

// The event list endpoint, which reads the stored events back.
json Events(const EmulatorProcess& hub, const std::string& device_id) {
  auto res = hub.Get("/emulator/events?deviceId=" + device_id);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return json::parse(res->body);
}

// The first `want` events of the stream from the start of the log, or fewer when the deadline passes.
std::vector<json> StreamFromStart(const EmulatorProcess& hub, size_t want) {
  std::vector<json> events;
  std::string buffer;
  auto cli = hub.Client();
  cli->set_read_timeout(10s);
  auto until = std::chrono::steady_clock::now() + 10s;
  cli->Get("/emulator/events/stream?from=earliest", {{"Authorization", EmulatorProcess::PolicyToken()}},
           [&](const char* data, size_t n) {
             buffer.append(data, n);
             for (size_t end; (end = buffer.find("\n\n")) != std::string::npos; buffer.erase(0, end + 2)) {
               size_t at = buffer.substr(0, end).find("data: ");
               if (at != std::string::npos) events.push_back(json::parse(buffer.substr(at + 6, end - at - 6)));
             }
             return events.size() < want && std::chrono::steady_clock::now() < until;
           });
  return events;
}

void SendJsonTelemetry(MqttTestClient& device, const std::string& device_id, const std::string& body, uint16_t id) {
  device.Send(mqtt::Publish{"devices/" + device_id + "/messages/events/$.ct=application%2Fjson&$.ce=utf-8&n=" +
                                std::to_string(id),
                            body, 1, false, false, id});
  auto ack = device.Receive(10s);
  REQUIRE(ack);
  REQUIRE(std::holds_alternative<mqtt::Puback>(*ack));
  CHECK(std::get<mqtt::Puback>(*ack).packet_id == id);
}

}  // namespace

TEST_CASE("Nested JSON: every REST body nested past the limit is a 400 in IoT Hub's form, and the hub lives on") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "deep");
  struct Case {
    const char* name;
    std::string method, path, body;
  };
  const Case cases[] = {
      {"method payload", "POST", "/twins/deep/methods", R"({"methodName":"m","payload":)" + kDeep + "}"},
      {"cloud-to-device body", "POST", "/emulator/devices/deep/messages", R"({"body":)" + kDeep + "}"},
      {"desired patch", "PATCH", "/twins/deep", R"({"properties":{"desired":{"a":)" + kDeep + "}}}"},
      {"twin replace", "PUT", "/twins/deep", R"({"tags":{"a":)" + kDeep + "}}"},
      {"device identity", "PUT", "/devices/deep2", R"({"deviceId":"deep2","tags":)" + kDeep + "}"},
      {"bulk import", "POST", "/devices", "[" + kDeep + "]"},
      {"objects, not arrays", "POST", "/twins/deep/methods", Nested(40000, "{\"a\":", "}")},
  };
  for (const Case& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    auto res = c.method == "POST"    ? hub.Post(c.path, c.body)
               : c.method == "PUT"   ? hub.Put(c.path, c.body)
                                     : Patch(hub, c.path, c.body);
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(ErrorCodeOf(res) == "IotHubFormatError");
    CHECK(res->get_header_value("iothub-errorcode") == "IotHubFormatError");
    CHECK(res->body.find("nested deeper than 64 levels") != std::string::npos);
  }
  auto health = hub.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(hub.Get("/devices/deep2")->status == 404);  // nothing half-written
}

TEST_CASE("Nested JSON: at the limit is accepted, and twin depth counts arrays as well as objects") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "twin");
  // 64 levels in all is JSON the hub takes (a C2D body is kept as sent).
  auto at_limit = hub.Post("/emulator/devices/twin/messages", R"({"body":)" + Nested(63) + "}");
  REQUIRE(at_limit);
  CHECK(at_limit->status == 200);
  auto past_limit = hub.Post("/emulator/devices/twin/messages", R"({"body":)" + Nested(64) + "}");
  REQUIRE(past_limit);
  CHECK(past_limit->status == 400);

  // Twins: desired is level 1, so a member may nest 9 more, arrays included.
  auto nine = Patch(hub, "/twins/twin", R"({"properties":{"desired":{"a":)" + Nested(9) + "}}}");
  REQUIRE(nine);
  CHECK(nine->status == 200);
  auto ten = Patch(hub, "/twins/twin", R"({"properties":{"desired":{"b":)" + Nested(10) + "}}}");
  REQUIRE(ten);
  CHECK(ten->status == 400);
  CHECK(ErrorCodeOf(ten) == "ArgumentInvalid");
  CHECK(json::parse(hub.Get("/twins/twin")->body)["properties"]["desired"].contains("a"));
  CHECK_FALSE(json::parse(hub.Get("/twins/twin")->body)["properties"]["desired"].contains("b"));
}

TEST_CASE("Nested JSON: a reported patch over MQTT gets the errorCode body, and the connection lives on") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "reporter");
  MqttTestClient device(hub.mqtt_port());
  REQUIRE(device.Connect("reporter", DeviceToken("reporter", kTestDeviceKey)));
  device.Send(mqtt::Subscribe{1, {{"$iothub/twin/res/#", 0}}});
  REQUIRE(device.Receive());  // SUBACK

  device.Send(mqtt::Publish{"$iothub/twin/PATCH/properties/reported/?$rid=7", kDeep, 0, false, false, 0});
  auto answer = device.Receive(10s);
  REQUIRE(answer);
  REQUIRE(std::holds_alternative<mqtt::Publish>(*answer));
  const auto& res = std::get<mqtt::Publish>(*answer);
  CHECK(res.topic == "$iothub/twin/res/400/?$rid=7");
  json body = json::parse(res.payload);
  CHECK(body["errorCode"] == 400006);
  CHECK(body["message"].get<std::string>().find("nested deeper than 64 levels") != std::string::npos);

  // Too deep for a twin, within the JSON bound: IoT Hub's twin rule answers.
  device.Send(mqtt::Publish{"$iothub/twin/PATCH/properties/reported/?$rid=8", R"({"a":)" + Nested(12) + "}", 0,
                            false, false, 0});
  auto rule = device.Receive(10s);
  REQUIRE(rule);
  REQUIRE(std::holds_alternative<mqtt::Publish>(*rule));
  CHECK(std::get<mqtt::Publish>(*rule).topic == "$iothub/twin/res/400/?$rid=8");
  CHECK(json::parse(std::get<mqtt::Publish>(*rule).payload)["errorCode"] == 400004);

  device.Send(mqtt::Publish{"$iothub/twin/GET/?$rid=9", "", 0, false, false, 0});
  auto twin = device.Receive(10s);
  REQUIRE(twin);
  REQUIRE(std::holds_alternative<mqtt::Publish>(*twin));
  CHECK(std::get<mqtt::Publish>(*twin).topic == "$iothub/twin/res/200/?$rid=9");
}

TEST_CASE("Nested JSON: a stored event of any depth is data to every reader, after a restart too") {
  const std::string data_dir = FreshDataDir("nested-events");
  {
    EmulatorProcess hub({}, data_dir);
    CreateTestDevice(hub, "sender");
    MqttTestClient device(hub.mqtt_port());
    REQUIRE(device.Connect("sender", DeviceToken("sender", kTestDeviceKey)));
    SendJsonTelemetry(device, "sender", Nested(64), 1);  // 64 levels: JSON
    SendJsonTelemetry(device, "sender", Nested(65), 2);  // 65: shown as text
    SendJsonTelemetry(device, "sender", kDeep, 3);
    SendJsonTelemetry(device, "sender", "{not json", 4);
  }
  EmulatorProcess hub({}, data_dir);
  auto check = [](const std::vector<json>& events) {
    REQUIRE(events.size() == 4);
    CHECK(events[0]["bodyEncoding"] == "json");
    CHECK(events[0]["body"].is_array());
    CHECK(events[1]["bodyEncoding"] == "text");
    CHECK(events[1]["body"] == Nested(65));
    CHECK(events[2]["bodyEncoding"] == "text");
    CHECK(events[2]["body"].get<std::string>().size() == kDeep.size());
    CHECK(events[3]["bodyEncoding"] == "text");
  };
  json listed = Events(hub, "sender");
  check(std::vector<json>(listed.begin(), listed.end()));
  check(StreamFromStart(hub, 4));

  auto [status, output] = RunCommand(
      "IOTHUB_CONNECTION_STRING='HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=" +
      std::string(kOwnerKey) + "' " IOTHUB_CLI " --ca " + TestCaPath() + " --https-port " +
      std::to_string(hub.https_port()) + " monitor sender --from earliest --json -n 4 -t 20");
  CHECK(status == 0);
  CAPTURE(output.substr(0, 2000));
  size_t events = 0;
  for (size_t at = 0; at < output.size(); at = output.find('\n', at) + 1) {
    if (output[at] == '{') ++events;
    if (output.find('\n', at) == std::string::npos) break;
  }
  CHECK(events == 4);
  REQUIRE(hub.Get("/health"));
}

}  // namespace iothub::testing
