// The bodies of POST /twins/{id}/methods (direct method invocation) and POST
// /emulator/devices/{id}/messages (cloud-to-device send), parsed with ParseJson.
// Their field rules live inside the HTTP handlers (method_handlers.cpp,
// cloud_to_device_handlers.cpp), which take an httplib request; this target
// repeats those rules step by step and drives what the handlers call: the C2D
// queue on an in-memory SQLite store and the MQTT topic the device receives, which
// must carry the message's properties back unchanged. The first byte picks the body.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/cloud_to_device.h"
#include "core/device_connections.h"
#include "core/direct_methods.h"
#include "core/json_parse.h"
#include "core/registry.h"
#include "fuzz_check.h"
#include "fuzz_hub.h"
#include "mqtt/iothub_topics.h"
#include "http/cloud_to_device_json.h"
#include "storage/sqlite_cloud_to_device_store.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"

namespace {

using namespace iothub;
using fuzz::Check;
using nlohmann::json;

struct Hub : fuzz::RegistryWithDevice {
  storage::SqliteCloudToDeviceStore queue{db};
  CloudToDevice cloud_to_device{queue, registry, connections};
};

Hub& TheHub() { return fuzz::TheHub<Hub>(); }

// As method_handlers.cpp: an optional whole number of seconds in [min, max].
std::optional<int64_t> Seconds(const json& body, const char* name, int fallback, int min, int max) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < min || it->get<int64_t>() > max) return std::nullopt;
  return it->get<int64_t>();
}

// As InvokeMethod up to the call to DirectMethods::Invoke.
void MethodBody(const json& body) {
  if (!body.is_object()) return;
  auto name = body.find("methodName");
  if (name == body.end() || !name->is_string() || name->get<std::string>().empty()) return;
  auto response_timeout = Seconds(body, "responseTimeoutInSeconds", 30, 5, 300);
  auto connect_timeout = Seconds(body, "connectTimeoutInSeconds", 0, 0, 300);
  if (!response_timeout || !connect_timeout) return;
  MethodCall call;
  call.method_name = name->get<std::string>();
  call.payload_json = body.contains("payload") ? body["payload"].dump() : "null";
  call.response_timeout = std::chrono::seconds(*response_timeout);
  call.connect_timeout = std::chrono::seconds(*connect_timeout);
  // The device receives the payload as the PUBLISH body and the Node SDK JSON-parses it.
  Check(ParseJson(call.payload_json).ok(), "a method payload reaches the device as JSON");
  Check(call.response_timeout >= DirectMethods::kMinResponseTimeout && call.response_timeout <= DirectMethods::kMaxTimeout,
        "the response timeout is in range");
}

// SendCloudToDevice's own conversion, then what a device receives.
void CloudToDeviceBody(const json& body) {
  auto converted = http::CloudToDeviceMessageFromJson(body, "dev1");
  if (!converted.ok()) return;
  CloudToDeviceMessage m = std::move(converted).value();

  Hub& hub = TheHub();
  const CloudToDeviceMessage sent = m;
  auto sequence = hub.cloud_to_device.Send(std::move(m));
  Check(sequence.ok(), "a valid message is queued");
  auto leased = hub.cloud_to_device.Lease("dev1", CloudToDevice::kMaxQueueDepth);
  Check(leased.size() == 1, "the queued message is delivered");
  const CloudToDeviceMessage& stored = leased.front().message;
  Check(stored.body == sent.body, "the stored body is the sent body");
  Check(stored.application_properties == sent.application_properties, "the stored properties are the sent ones");

  const std::string topic = mqtt::CloudToDeviceTopic(stored);
  constexpr std::string_view kPrefix = "devices/dev1/messages/devicebound/";
  Check(std::string_view(topic).starts_with(kPrefix), "the topic names the device");
  auto bag = mqtt::DecodePropertyBag(std::string_view(topic).substr(kPrefix.size()));
  Check(bag.has_value(), "the topic's property bag decodes");
  Properties app;
  for (const auto& [k, v] : *bag) {
    if (k == "$.mid") Check(sent.properties.message_id == v, "$.mid is the message id");
    if (k == "$.cid") Check(sent.properties.correlation_id == v, "$.cid is the correlation id");
    if (k == "$.ct") Check(sent.properties.content_type == v, "$.ct is the content type");
    if (!k.starts_with("$.")) app.emplace_back(k, v);
  }
  Properties expected;
  for (const auto& [k, v] : sent.application_properties) {
    if (!k.starts_with("$.")) expected.emplace_back(k, v);
  }
  Check(app == expected, "application properties reach the device");
  hub.cloud_to_device.Purge("dev1");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool method = data[0] & 1;
  ParsedJson body = ParseJson(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  if (!body.ok()) return 0;
  if (method) {
    MethodBody(body.value);
  } else {
    CloudToDeviceBody(body.value);
  }
  return 0;
}
