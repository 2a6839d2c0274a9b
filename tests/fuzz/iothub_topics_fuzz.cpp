// IoT Hub's MQTT conventions on arbitrary text: the CONNECT user name, telemetry
// topics with their property bags, SUBSCRIBE filters. What is accepted must turn
// into an event whose JSON can be written (the event store and stream do), and
// property bags must survive encoding and decoding.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/telemetry.h"
#include "core/url_encoding.h"
#include "fuzz_check.h"
#include "http/event_json.h"
#include "mqtt/codec/mqtt_codec.h"
#include "mqtt/iothub_topics.h"

namespace {

using namespace iothub;
using fuzz::Check;

// The device id a telemetry topic names, so the fuzzer reaches the bag for any id
// (the session uses the id the device signed in with).
std::string DeviceIdOfTopic(std::string_view topic) {
  constexpr std::string_view kDevices = "devices/";
  if (!topic.starts_with(kDevices)) return "dev1";
  topic.remove_prefix(kDevices.size());
  return std::string(topic.substr(0, topic.find('/')));
}

std::string EncodeBag(const Properties& pairs) {
  std::string bag;
  for (const auto& [k, v] : pairs) bag += (bag.empty() ? "" : "&") + UrlEncodeComponent(k) + "=" + UrlEncodeComponent(v);
  return bag;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto username = mqtt::ParseUsername(input);
  if (username) {
    Check(!username->device_id.empty(), "a parsed user name has a device id");
    Check(!username->host.empty(), "a parsed user name has a host");
    const std::string client_id = mqtt::ClientIdOf(*username);
    Check(client_id.starts_with(username->device_id), "the client id starts with the device id");
    // model-id becomes the dt-dataschema annotation of every event: it must be writable as JSON.
    // The session parses only user names the codec found to be UTF-8.
    if (username->model_id && mqtt::IsValidMqttUtf8(input)) (void)nlohmann::json(*username->model_id).dump();
  }

  if (auto bag = mqtt::DecodePropertyBag(input)) {
    auto again = mqtt::DecodePropertyBag(EncodeBag(*bag));
    Check(again && *again == *bag, "a decoded property bag encodes and decodes back the same");
  }

  const std::string device_id = DeviceIdOfTopic(input);
  mqtt::FeedOfFilter(input, device_id);
  auto telemetry = mqtt::ParseTelemetryTopic(input, device_id);
  if (telemetry && telemetry->ok()) {
    TelemetryMessage message = (*telemetry)->message;
    message.body = "{\"windSpeed\":10.2}";
    ConnectionInfo connection;
    connection.device.device_id = device_id;
    if (username) connection.model_id = username->model_id;
    Event event = MakeTelemetryEvent(connection, message);
    event.partition = 0;
    event.sequence_number = 1;
    event.offset = 0;
    // The event store and the event stream write this; it must not throw.
    const std::string json = http::EventToJsonText(event);
    Check(!json.empty(), "an event becomes JSON");

    // The same properties sent back to a device as a cloud-to-device topic decode the same.
    CloudToDeviceMessage c2d;
    c2d.device_id = device_id;
    c2d.properties.message_id = message.properties.message_id;
    c2d.application_properties = message.application_properties;
    const std::string topic = mqtt::CloudToDeviceTopic(c2d);
    const std::string prefix = "devices/" + device_id + "/messages/devicebound/";
    Check(topic.starts_with(prefix), "a cloud-to-device topic names the device");
    auto decoded = mqtt::DecodePropertyBag(std::string_view(topic).substr(prefix.size()));
    Check(decoded.has_value(), "a cloud-to-device property bag decodes");
    Properties app;
    for (const auto& [k, v] : *decoded) {
      if (k == "$.mid") Check(message.properties.message_id == v, "$.mid comes back");
      if (!k.starts_with("$.")) app.emplace_back(k, v);
    }
    Properties expected;
    for (const auto& [k, v] : message.application_properties) {
      if (!k.starts_with("$.")) expected.emplace_back(k, v);
    }
    Check(app == expected, "application properties come back in order");
  }

  // A device's twin requests and method answers: what parses names a request id the
  // response topic can carry back.
  if (auto twin = mqtt::ParseTwinRequestTopic(input)) {
    Check(input.starts_with("$iothub/twin/"), "a twin request is on a twin topic");
    const std::string response = mqtt::TwinResponseTopic(200, twin->request_id, std::nullopt);
    Check(response.find("$rid=" + twin->request_id) != std::string::npos, "the response names the request");
  }
  if (auto answer = mqtt::ParseMethodResponseTopic(input)) {
    Check(input.starts_with("$iothub/methods/res/"), "a method answer is on the method response topic");
    Check(input.find(answer->request_id) != std::string_view::npos, "the request id comes from the topic");
  }
  return 0;
}
