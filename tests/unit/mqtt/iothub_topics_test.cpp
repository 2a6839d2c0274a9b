#include "mqtt/iothub_topics.h"

#include <doctest/doctest.h>

namespace iothub::mqtt {

TEST_CASE("IoT Hub MQTT: user names in the SDKs' forms") {
  auto node = ParseUsername(
      "localhost:18883/dev1/?api-version=2021-04-12&model-id=dtmi:com:example:Thermostat;1&DeviceClientType="
      "azure-iot-device%2F1.18.4%20(node%20v20.20.2%3B%20Debian%2012%3B%20x64)");
  REQUIRE(node);
  CHECK(node->host == "localhost:18883");
  CHECK(node->device_id == "dev1");
  CHECK_FALSE(node->module_id);
  CHECK(node->model_id == "dtmi:com:example:Thermostat;1");

  auto old_c = ParseUsername("myhub.azure-devices.net/dev2/api-version=2016-11-14&DeviceClientType=iothubclient");
  REQUIRE(old_c);
  CHECK(old_c->device_id == "dev2");

  auto module = ParseUsername("h/dev3/mod1/?api-version=2021-04-12");
  REQUIRE(module);
  CHECK(module->module_id == "mod1");
  CHECK(ClientIdOf(*module) == "dev3/mod1");

  auto bare = ParseUsername("h/dev4");
  REQUIRE(bare);
  CHECK(bare->device_id == "dev4");
  for (const char* bad : {"", "nohost", "/dev1/?api-version=1", "h//?api-version=1", "h/d/m/x/?a=1"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseUsername(bad));
  }
}

TEST_CASE("IoT Hub MQTT: the Node SDK's captured telemetry topic decodes to its properties") {
  auto t = ParseTelemetryTopic(
      "devices/dev1/messages/events/%24.mid=m-1&%24.cid=c%201&%24.ct=application%2Fjson&%24.ce=utf-8&"
      "%24.exp=2030-01-01T00%3A00%3A00.000Z&alert=high%20temp&a%26b=x%3Dy%2Fz",
      "dev1");
  REQUIRE(t);
  REQUIRE(t->ok());
  const TelemetryMessage& m = t->value().message;
  CHECK(m.properties.message_id == "m-1");
  CHECK(m.properties.correlation_id == "c 1");
  CHECK(m.properties.content_type == "application/json");
  CHECK(m.properties.content_encoding == "utf-8");
  CHECK(m.properties.absolute_expiry_time == "2030-01-01T00:00:00.000Z");
  CHECK(m.application_properties == Properties{{"alert", "high temp"}, {"a&b", "x=y/z"}});
}

TEST_CASE("IoT Hub MQTT: telemetry topics belong to their own device only") {
  CHECK(ParseTelemetryTopic("devices/dev1/messages/events/", "dev1"));
  CHECK(ParseTelemetryTopic("devices/dev1/messages/events", "dev1"));
  CHECK(ParseTelemetryTopic("devices/dev1/messages/events/%24.on=out/", "dev1"));  // Edge output form
  CHECK_FALSE(ParseTelemetryTopic("devices/dev2/messages/events/", "dev1"));
  CHECK_FALSE(ParseTelemetryTopic("devices/dev10/messages/events/", "dev1"));
  CHECK_FALSE(ParseTelemetryTopic("devices/dev1/messages/eventsX", "dev1"));
  CHECK_FALSE(ParseTelemetryTopic("$iothub/twin/GET/?$rid=1", "dev1"));
  auto broken = ParseTelemetryTopic("devices/dev1/messages/events/a=%zz", "dev1");
  REQUIRE(broken);
  CHECK_FALSE(broken->ok());

  auto extras = ParseTelemetryTopic("devices/d/messages/events/%24.ctime=2020&%24.sub=thermo&%24.ifid=urn%3Ax&flag", "d");
  REQUIRE(extras);
  CHECK(extras->value().message.creation_time == "2020");
  CHECK(extras->value().message.component == "thermo");
  CHECK(extras->value().message.interface_id == "urn:x");
  CHECK(extras->value().message.application_properties == Properties{{"flag", ""}});
}

// Found by tests/fuzz/event_json_fuzz: "%FF" decoded into a property made the event
// store's JSON dump throw, so the message could not be stored.
TEST_CASE("IoT Hub MQTT: escapes that decode to invalid UTF-8 are refused, not stored") {
  for (const char* topic : {"devices/d/messages/events/%24.mid=%FF", "devices/d/messages/events/k%C3=v",
                            "devices/d/messages/events/k=%ED%A0%80", "devices/d/messages/events/k=%00"}) {
    CAPTURE(topic);
    auto t = ParseTelemetryTopic(topic, "d");
    REQUIRE(t);
    CHECK_FALSE(t->ok());
  }
  auto fine = ParseTelemetryTopic("devices/d/messages/events/k=%C3%A9", "d");
  REQUIRE(fine);
  REQUIRE(fine->ok());
  CHECK(fine->value().message.application_properties == Properties{{"k", "\xC3\xA9"}});

  auto u = ParseUsername("h/d/?api-version=2021-04-12&model-id=dtmi%3Ax%FF");
  REQUIRE(u);
  CHECK(u->model_id == "dtmi%3Ax%FF");  // kept as sent
}

TEST_CASE("IoT Hub MQTT: only IoT Hub's topic filters, for the device's own topics") {
  CHECK(FeedOfFilter("devices/dev1/messages/devicebound/#", "dev1") == Feed::kCloudToDevice);
  CHECK(FeedOfFilter("$iothub/methods/POST/#", "dev1") == Feed::kMethods);
  CHECK(FeedOfFilter("$iothub/twin/res/#", "dev1") == Feed::kTwinResponses);
  CHECK(FeedOfFilter("$iothub/twin/PATCH/properties/desired/#", "dev1") == Feed::kDesiredProperties);
  CHECK_FALSE(FeedOfFilter("devices/dev2/messages/devicebound/#", "dev1"));
  CHECK_FALSE(FeedOfFilter("#", "dev1"));
  CHECK_FALSE(FeedOfFilter("devices/+/messages/devicebound/#", "dev1"));
}

TEST_CASE("IoT Hub MQTT: twin request topics give the request and its $rid, responses carry status and version") {
  auto get = ParseTwinRequestTopic("$iothub/twin/GET/?$rid=6f1c-42");
  REQUIRE(get);
  CHECK(get->get);
  CHECK(get->request_id == "6f1c-42");
  auto patch = ParseTwinRequestTopic("$iothub/twin/PATCH/properties/reported/?$rid=7&other=x");
  REQUIRE(patch);
  CHECK_FALSE(patch->get);
  CHECK(patch->request_id == "7");
  CHECK_FALSE(ParseTwinRequestTopic("$iothub/twin/GET/"));  // no $rid
  CHECK_FALSE(ParseTwinRequestTopic("$iothub/twin/PATCH/properties/desired/?$rid=1"));
  CHECK_FALSE(ParseTwinRequestTopic("devices/dev1/messages/events/"));

  CHECK(TwinResponseTopic(200, "6f1c-42", std::nullopt) == "$iothub/twin/res/200/?$rid=6f1c-42");
  CHECK(TwinResponseTopic(204, "7", 3) == "$iothub/twin/res/204/?$rid=7&$version=3");
  CHECK(DesiredPropertiesTopic(5) == "$iothub/twin/PATCH/properties/desired/?$version=5");
}

TEST_CASE("IoT Hub MQTT: method response topics give the device's status and the $rid") {
  auto ok = ParseMethodResponseTopic("$iothub/methods/res/200/?$rid=1");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->request_id == "1");
  auto failed = ParseMethodResponseTopic("$iothub/methods/res/-5/?$rid=abc&x=y");
  REQUIRE(failed);
  CHECK(failed->status == -5);
  CHECK(failed->request_id == "abc");
  CHECK_FALSE(ParseMethodResponseTopic("$iothub/methods/res/2x0/?$rid=1"));  // not a number
  CHECK_FALSE(ParseMethodResponseTopic("$iothub/methods/res/200/"));         // no $rid
  CHECK_FALSE(ParseMethodResponseTopic("$iothub/methods/POST/reboot/?$rid=1"));
  CHECK(MethodRequestTopic("reboot", "9") == "$iothub/methods/POST/reboot/?$rid=9");
}

}  // namespace iothub::mqtt
