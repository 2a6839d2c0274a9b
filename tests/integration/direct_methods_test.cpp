// Direct methods over the real wire: REST invoke, MQTT delivery to the device's
// own connection, its answer back to the caller (issue: twins, methods, C2D).
#include <doctest/doctest.h>

#include <future>
#include <map>
#include <thread>

#include "integration/emulator_process.h"
#include "integration/mqtt_test_client.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kKey = kTestDeviceKey;


// A device connected over MQTT, subscribed to methods unless told otherwise.
std::unique_ptr<MqttTestClient> Online(const EmulatorProcess& hub, const std::string& id, bool subscribe = true) {
  auto client = std::make_unique<MqttTestClient>(hub.mqtt_port());
  REQUIRE(client->Connect(id, DeviceToken(id, kKey))->return_code == mqtt::ConnectReturnCode::kAccepted);
  if (subscribe) {
    client->Send(mqtt::Subscribe{1, {{"$iothub/methods/POST/#", 0}}});
    REQUIRE(client->Receive());  // SUBACK
  }
  return client;
}

std::future<httplib::Result> InvokeAsync(const EmulatorProcess& hub, const std::string& id, const json& body) {
  return std::async(std::launch::async, [&hub, id, body] { return hub.Post("/twins/" + id + "/methods", body.dump()); });
}

// The next method request the device gets: name, request id, payload.
struct Request {
  std::string name, rid;
  json payload;
};
std::optional<Request> NextRequest(MqttTestClient& device, std::chrono::milliseconds timeout = 5s) {
  auto packet = device.Receive(timeout);
  if (!packet || !std::holds_alternative<mqtt::Publish>(*packet)) return std::nullopt;
  const auto& p = std::get<mqtt::Publish>(*packet);
  const std::string prefix = "$iothub/methods/POST/";
  REQUIRE(p.topic.rfind(prefix, 0) == 0);
  std::string rest = p.topic.substr(prefix.size());
  return Request{rest.substr(0, rest.find('/')), rest.substr(rest.find("$rid=") + 5), json::parse(p.payload)};
}

void Answer(MqttTestClient& device, const Request& r, int status, const std::string& payload) {
  device.Send(mqtt::Publish{"$iothub/methods/res/" + std::to_string(status) + "/?$rid=" + r.rid, payload, 0, false,
                            false, 0});
}

}  // namespace

TEST_CASE("Direct methods: the device gets the call on its own connection and its answer comes back") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  auto device = Online(hub, "dev1");
  auto call = InvokeAsync(hub, "dev1", {{"methodName", "reboot"}, {"payload", {{"delay", 5}}}, {"responseTimeoutInSeconds", 10}});
  auto request = NextRequest(*device);
  REQUIRE(request);
  CHECK(request->name == "reboot");
  CHECK(request->payload == json{{"delay", 5}});
  Answer(*device, *request, 201, R"({"rebooting":true})");
  auto res = call.get();
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(json::parse(res->body) == json{{"status", 201}, {"payload", {{"rebooting", true}}}});

  // No payload is sent as JSON null, never as an empty body (the Node SDK parses it).
  auto bare = InvokeAsync(hub, "dev1", {{"methodName", "ping"}});
  auto ping = NextRequest(*device);
  REQUIRE(ping);
  CHECK(ping->payload.is_null());
  Answer(*device, *ping, 200, "");
  CHECK(json::parse(bare.get()->body) == json{{"status", 200}, {"payload", nullptr}});
}

TEST_CASE("Direct methods: offline, unsubscribed and unknown devices, and devices that do not answer") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  auto offline = hub.Post("/twins/dev1/methods", R"({"methodName":"m"})");
  CHECK(offline->status == 404);
  CHECK(ErrorCodeOf(offline) == "DeviceNotOnline");
  auto unknown = hub.Post("/twins/ghost/methods", R"({"methodName":"m"})");
  CHECK(unknown->status == 404);
  CHECK(ErrorCodeOf(unknown) == "DeviceNotFound");
  {
    auto deaf = Online(hub, "dev1", /*subscribe=*/false);
    CHECK(ErrorCodeOf(hub.Post("/twins/dev1/methods", R"({"methodName":"m"})")) == "DeviceNotOnline");
  }
  auto silent = Online(hub, "dev1");
  auto t0 = std::chrono::steady_clock::now();
  auto timeout = hub.Post("/twins/dev1/methods", R"({"methodName":"m","responseTimeoutInSeconds":5})");
  CHECK(timeout->status == 504);
  CHECK(ErrorCodeOf(timeout) == "GatewayTimeout");
  CHECK(std::chrono::steady_clock::now() - t0 >= 5s);
}

TEST_CASE("Direct methods: connectTimeoutInSeconds waits for the device to come online") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "late");
  auto call = InvokeAsync(hub, "late", {{"methodName", "hello"}, {"connectTimeoutInSeconds", 10}});
  // Without connectTimeoutInSeconds an offline device is refused at once; this call must still be waiting
  // (a short, bounded wait for what must not happen).
  CHECK(call.wait_for(1s) == std::future_status::timeout);
  auto device = Online(hub, "late");
  auto request = NextRequest(*device);
  REQUIRE(request);
  Answer(*device, *request, 200, R"("hi")");
  CHECK(json::parse(call.get()->body) == json{{"status", 200}, {"payload", "hi"}});
}

TEST_CASE("Direct methods: many calls in flight, to one device and to many, each answered to its caller") {
  EmulatorProcess hub;
  const std::vector<std::string> ids = {"a", "b", "c"};
  std::map<std::string, std::unique_ptr<MqttTestClient>> devices;
  for (const auto& id : ids) {
    CreateTestDevice(hub, id);
    devices[id] = Online(hub, id);
  }
  std::vector<std::pair<std::string, std::future<httplib::Result>>> calls;
  for (const auto& id : ids) {
    for (int i = 0; i < 4; ++i) {
      calls.emplace_back(id + std::to_string(i), InvokeAsync(hub, id, {{"methodName", "echo"}, {"payload", id + std::to_string(i)}}));
    }
  }
  // Each device answers its 4 calls in reverse order, echoing the payload; no device sees another's calls.
  for (const auto& id : ids) {
    std::vector<Request> got;
    for (int i = 0; i < 4; ++i) {
      auto r = NextRequest(*devices[id]);
      REQUIRE(r);
      CHECK(r->payload.get<std::string>().substr(0, 1) == id);
      got.push_back(*r);
    }
    for (auto it = got.rbegin(); it != got.rend(); ++it) Answer(*devices[id], *it, 200, it->payload.dump());
  }
  for (auto& [expected, call] : calls) {
    auto res = call.get();
    REQUIRE(res);
    CHECK(json::parse(res->body) == json{{"status", 200}, {"payload", expected}});
  }
  for (const auto& id : ids) CHECK_FALSE(devices[id]->Receive(200ms));  // nothing left over for anyone (short: must not come)
}

TEST_CASE("Direct methods: bad requests and wrong credentials") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  for (const char* body : {R"({})", R"({"methodName":""})", R"({"methodName":"m","responseTimeoutInSeconds":4})",
                           R"({"methodName":"m","responseTimeoutInSeconds":301})",
                           R"({"methodName":"m","connectTimeoutInSeconds":-1})", R"({"methodName":"m","responseTimeoutInSeconds":"30"})"}) {
    CAPTURE(body);
    auto res = hub.Post("/twins/dev1/methods", body);
    CHECK(res->status == 400);
    CHECK(ErrorCodeOf(res) == "ArgumentInvalid");
  }
  CHECK(hub.Post("/twins/dev1/methods", "{oops")->status == 400);
  auto read_only = hub.Post("/twins/dev1/methods", R"({"methodName":"m"})",
                            {{"Authorization", EmulatorProcess::PolicyToken("registryRead", "P86A3ZPhPNuea+fgHNi5z6Ume9BDT6b6IyjXNHuR488=")}});
  CHECK(read_only->status == 401);
}

}  // namespace iothub::testing
