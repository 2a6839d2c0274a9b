// Device twins over the real wire: the REST API of the back end and the MQTT
// topics of the device (spec §2.7, §3.4, §4.2–4.3).
#include <doctest/doctest.h>

#include <thread>

#include "integration/emulator_process.h"
#include "integration/mqtt_test_client.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kKey = kTestDeviceKey;


httplib::Result Patch(const EmulatorProcess& hub, const std::string& id, const json& patch, const std::string& etag = "*") {
  return hub.Client()->Patch("/twins/" + id, {{"Authorization", EmulatorProcess::PolicyToken()}, {"If-Match", "\"" + etag + "\""}},
                             patch.dump(), "application/json");
}

// A device subscribed to twin responses and desired-property changes.
std::unique_ptr<MqttTestClient> TwinDevice(const EmulatorProcess& hub, const std::string& id) {
  auto c = std::make_unique<MqttTestClient>(hub.mqtt_port());
  REQUIRE(c->Connect(id, DeviceToken(id, kKey))->return_code == mqtt::ConnectReturnCode::kAccepted);
  c->Send(mqtt::Subscribe{1, {{"$iothub/twin/res/#", 0}, {"$iothub/twin/PATCH/properties/desired/#", 0}}});
  REQUIRE(c->Receive());
  return c;
}

mqtt::Publish NextPublish(MqttTestClient& c) {
  auto packet = c.Receive();
  REQUIRE(packet);
  REQUIRE(std::holds_alternative<mqtt::Publish>(*packet));
  return std::get<mqtt::Publish>(*packet);
}

}  // namespace

TEST_CASE("Twins REST: IoT Hub's Twin JSON, merge patches with null deletes, versions and etags") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  auto got = hub.Get("/twins/dev1");
  REQUIRE(got->status == 200);
  json twin = json::parse(got->body);
  CHECK(twin["deviceId"] == "dev1");
  CHECK(twin["status"] == "enabled");
  CHECK(twin["properties"]["desired"]["$version"] == 1);
  CHECK(twin["properties"]["reported"]["$version"] == 1);
  CHECK(twin["tags"] == json::object());
  CHECK(got->get_header_value("ETag") == "\"" + twin["etag"].get<std::string>() + "\"");

  auto patched = Patch(hub, "dev1", {{"tags", {{"building", "43"}, {"floor", 2}}},
                                     {"properties", {{"desired", {{"telemetry", {{"interval", "5m"}, {"on", true}}}}}}}},
                       twin["etag"]);
  REQUIRE(patched->status == 200);
  json after = json::parse(patched->body);
  CHECK(after["tags"] == json{{"building", "43"}, {"floor", 2}});
  CHECK(after["properties"]["desired"]["telemetry"] == json{{"interval", "5m"}, {"on", true}});
  CHECK(after["properties"]["desired"]["$version"] == 2);
  CHECK(after["properties"]["desired"]["$metadata"]["telemetry"]["interval"].contains("$lastUpdated"));
  CHECK(after["version"].get<int>() > twin["version"].get<int>());
  CHECK(after["etag"] != twin["etag"]);

  auto stale = Patch(hub, "dev1", {{"tags", {{"x", 1}}}}, twin["etag"]);
  CHECK(stale->status == 412);
  CHECK(ErrorCodeOf(stale) == "PreconditionFailed");

  json deleted = json::parse(Patch(hub, "dev1", {{"tags", {{"floor", nullptr}}},
                                                 {"properties", {{"desired", {{"telemetry", {{"on", nullptr}}}}}}}})->body);
  CHECK(deleted["tags"] == json{{"building", "43"}});
  CHECK(deleted["properties"]["desired"]["telemetry"] == json{{"interval", "5m"}});
  CHECK(deleted["properties"]["desired"]["$version"] == 3);

  auto replaced = hub.Client()->Put("/twins/dev1", {{"Authorization", EmulatorProcess::PolicyToken()}, {"If-Match", "*"}},
                                    json{{"tags", {{"only", "this"}}}, {"properties", {{"desired", {{"fresh", 1}}}}}}.dump(),
                                    "application/json");
  REQUIRE(replaced->status == 200);
  json whole = json::parse(replaced->body);
  CHECK(whole["tags"] == json{{"only", "this"}});
  CHECK(whole["properties"]["desired"]["fresh"] == 1);
  CHECK_FALSE(whole["properties"]["desired"].contains("telemetry"));
}

TEST_CASE("Twins REST: IoT Hub's rules for keys, depth, size and writers") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  json deep = 1;
  for (int i = 0; i < 11; ++i) deep = json{{"l" + std::to_string(i), deep}};
  struct Case {
    const char* name;
    json patch;
    int status;
  };
  const Case cases[] = {
      {"a dot in a key", {{"tags", {{"a.b", 1}}}}, 400},
      {"a dollar key", {{"properties", {{"desired", {{"$x", 1}}}}}}, 400},
      {"a space in a key", {{"tags", {{"a b", 1}}}}, 400},
      {"deeper than 10 levels", {{"properties", {{"desired", deep}}}}, 400},
      {"reported written by the back end", {{"properties", {{"reported", {{"x", 1}}}}}}, 400},
      {"tags not an object", {{"tags", 5}}, 400},
      {"desired over 32 KiB", {{"properties", {{"desired", {{"big", std::string(33 * 1024, 'x')}}}}}}, 413},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto res = Patch(hub, "dev1", c.patch);
    REQUIRE(res);
    CHECK(res->status == c.status);
  }
  CHECK(json::parse(hub.Get("/twins/dev1")->body)["properties"]["desired"]["$version"] == 1);  // nothing written
  CHECK(hub.Get("/twins/ghost")->status == 404);
  CHECK(Patch(hub, "ghost", {{"tags", {{"a", 1}}}})->status == 404);
}

TEST_CASE("Twins MQTT: GET, reported patches with their version, and errors as an errorCode body") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  REQUIRE(Patch(hub, "dev1", {{"properties", {{"desired", {{"interval", 5}}}}}})->status == 200);
  auto device = TwinDevice(hub, "dev1");

  device->Send(mqtt::Publish{"$iothub/twin/GET/?$rid=r1", " ", 0, false, false, 0});
  auto get = NextPublish(*device);
  CHECK(get.topic == "$iothub/twin/res/200/?$rid=r1");
  CHECK(json::parse(get.payload) == json{{"desired", {{"interval", 5}, {"$version", 2}}}, {"reported", {{"$version", 1}}}});

  device->Send(mqtt::Publish{"$iothub/twin/PATCH/properties/reported/?$rid=r2", R"({"battery":80,"fw":{"v":"1.0"}})", 0,
                             false, false, 0});
  auto patched = NextPublish(*device);
  CHECK(patched.topic == "$iothub/twin/res/204/?$rid=r2&$version=2");
  CHECK(patched.payload.empty());
  device->Send(mqtt::Publish{"$iothub/twin/PATCH/properties/reported/?$rid=r3", R"({"fw":null})", 0, false, false, 0});
  CHECK(NextPublish(*device).topic == "$iothub/twin/res/204/?$rid=r3&$version=3");
  CHECK(json::parse(hub.Get("/twins/dev1")->body)["properties"]["reported"]["battery"] == 80);
  CHECK_FALSE(json::parse(hub.Get("/twins/dev1")->body)["properties"]["reported"].contains("fw"));

  device->Send(mqtt::Publish{"$iothub/twin/PATCH/properties/reported/?$rid=r4", "{not json", 0, false, false, 0});
  auto bad = NextPublish(*device);
  CHECK(bad.topic == "$iothub/twin/res/400/?$rid=r4");
  CHECK(json::parse(bad.payload).contains("errorCode"));
  device->Send(mqtt::Publish{"$iothub/twin/PATCH/properties/reported/?$rid=r5", R"({"a.b":1})", 0, false, false, 0});
  CHECK(NextPublish(*device).topic == "$iothub/twin/res/400/?$rid=r5");
}

TEST_CASE("Twins MQTT: desired changes reach the connected device in version order, and no other device") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  CreateTestDevice(hub, "dev2");
  auto one = TwinDevice(hub, "dev1");
  auto two = TwinDevice(hub, "dev2");
  for (int i = 1; i <= 3; ++i) REQUIRE(Patch(hub, "dev1", {{"properties", {{"desired", {{"step", i}}}}}})->status == 200);
  for (int i = 1; i <= 3; ++i) {
    auto p = NextPublish(*one);
    CHECK(p.topic == "$iothub/twin/PATCH/properties/desired/?$version=" + std::to_string(i + 1));
    CHECK(json::parse(p.payload) == json{{"step", i}, {"$version", i + 1}});
  }
  // dev2 asks for its twin; only dev2 hears the answer, and nothing of dev1's changes.
  two->Send(mqtt::Publish{"$iothub/twin/GET/?$rid=mine", " ", 0, false, false, 0});
  auto answer = NextPublish(*two);
  CHECK(answer.topic == "$iothub/twin/res/200/?$rid=mine");
  CHECK(json::parse(answer.payload)["desired"] == json{{"$version", 1}});
  CHECK_FALSE(one->Receive(300ms));  // short waits for what must not come
  CHECK_FALSE(two->Receive(300ms));
}

TEST_CASE("Twins: a patch with desired null removes every desired property and tells the device each one is gone") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  REQUIRE(Patch(hub, "dev1", {{"tags", {{"room", "lab"}}},
                              {"properties", {{"desired", {{"interval", 5}, {"telemetry", {{"on", true}}}}}}}})
              ->status == 200);
  auto device = TwinDevice(hub, "dev1");
  json before = json::parse(hub.Get("/twins/dev1")->body);

  auto cleared = Patch(hub, "dev1", {{"properties", {{"desired", nullptr}}}}, before["etag"]);
  REQUIRE(cleared->status == 200);
  json after = json::parse(cleared->body);
  json desired = after["properties"]["desired"];
  CHECK(desired["$version"] == 3);
  CHECK(desired["$metadata"] == json{{"$lastUpdated", desired["$metadata"]["$lastUpdated"]}});
  desired.erase("$version");
  desired.erase("$metadata");
  CHECK(desired == json::object());
  CHECK(after["tags"] == json{{"room", "lab"}});  // only the desired properties go
  CHECK(after["etag"] != before["etag"]);
  CHECK(json::parse(hub.Get("/twins/dev1")->body)["properties"]["desired"]["$version"] == 3);

  auto note = NextPublish(*device);
  CHECK(note.topic == "$iothub/twin/PATCH/properties/desired/?$version=3");
  CHECK(json::parse(note.payload) == json{{"interval", nullptr}, {"telemetry", nullptr}, {"$version", 3}});

  // The device's own view agrees, and a stale etag clears nothing.
  device->Send(mqtt::Publish{"$iothub/twin/GET/?$rid=g", " ", 0, false, false, 0});
  CHECK(json::parse(NextPublish(*device).payload)["desired"] == json{{"$version", 3}});
  REQUIRE(Patch(hub, "dev1", {{"properties", {{"desired", {{"again", 1}}}}}})->status == 200);
  (void)NextPublish(*device);
  CHECK(Patch(hub, "dev1", {{"properties", {{"desired", nullptr}}}}, before["etag"])->status == 412);
  CHECK(json::parse(hub.Get("/twins/dev1")->body)["properties"]["desired"]["again"] == 1);
}

TEST_CASE("Twins: a deleted device's twin goes with it") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  REQUIRE(Patch(hub, "dev1", {{"tags", {{"a", 1}}}})->status == 200);
  REQUIRE(hub.Delete("/devices/dev1")->status == 204);
  CreateTestDevice(hub, "dev1");
  CHECK(json::parse(hub.Get("/twins/dev1")->body)["tags"] == json::object());
}

}  // namespace iothub::testing
