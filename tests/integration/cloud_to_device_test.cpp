// Cloud-to-device messages over the real wire: queued per device in SQLite,
// delivered over MQTT when the device listens, completed by its PUBACK (spec §2.6).
#include <doctest/doctest.h>

#include <map>
#include <thread>

#include "core/url_encoding.h"
#include "integration/emulator_process.h"
#include "integration/mqtt_test_client.h"
#include "integration/wait_until.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kKey = kTestDeviceKey;


httplib::Result SendC2d(const EmulatorProcess& hub, const std::string& id, const json& message) {
  return hub.Post("/emulator/devices/" + id + "/messages", message.dump());
}

std::unique_ptr<MqttTestClient> Connect(const EmulatorProcess& hub, const std::string& id, bool clean = true,
                                        bool subscribe = true) {
  auto client = std::make_unique<MqttTestClient>(hub.mqtt_port());
  REQUIRE(client->Connect(id, DeviceToken(id, kKey), 60, clean)->return_code == mqtt::ConnectReturnCode::kAccepted);
  if (subscribe) {
    client->Send(mqtt::Subscribe{1, {{"devices/" + id + "/messages/devicebound/#", 1}}});
    auto suback = client->Receive();
    REQUIRE(suback);
    REQUIRE(std::holds_alternative<mqtt::Suback>(*suback));
  }
  return client;
}

// The next cloud-to-device PUBLISH, with its property bag decoded.
struct Delivery {
  mqtt::Publish publish;
  std::map<std::string, std::string> bag;
};
std::optional<Delivery> NextDelivery(MqttTestClient& device, std::chrono::milliseconds timeout = 3s) {
  auto packet = device.Receive(timeout);
  if (!packet || !std::holds_alternative<mqtt::Publish>(*packet)) return std::nullopt;
  Delivery d{std::get<mqtt::Publish>(*packet), {}};
  std::string bag = d.publish.topic.substr(d.publish.topic.find("/devicebound/") + 13);
  for (size_t start = 0; start < bag.size();) {
    size_t amp = bag.find('&', start);
    std::string pair = bag.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    size_t eq = pair.find('=');
    REQUIRE(eq != std::string::npos);  // never a bare key
    d.bag[*UrlDecode(pair.substr(0, eq))] = *UrlDecode(pair.substr(eq + 1));
    start = amp == std::string::npos ? bag.size() : amp + 1;
  }
  return d;
}

int64_t QueuedFor(const EmulatorProcess& hub, const std::string& id) {
  auto res = hub.Get("/devices/" + id);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return json::parse(res->body)["cloudToDeviceMessageCount"];
}

// The hub handles a device's disconnection on its own time; this waits until the registry shows it.
bool WaitDisconnected(const EmulatorProcess& hub, const std::string& id) {
  return WaitUntil([&] {
    auto res = hub.Get("/devices/" + id);
    return res && res->status == 200 && json::parse(res->body)["connectionState"] == "Disconnected";
  });
}

}  // namespace

TEST_CASE("C2D: a message queued while the device was offline arrives when it subscribes, and its PUBACK completes it") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  auto sent = SendC2d(hub, "dev1", {{"body", "turn on"}, {"messageId", "c2d-1"}, {"correlationId", "corr 1"},
                                    {"properties", {{"room", "kitchen & hall"}}}});
  REQUIRE(sent->status == 200);
  CHECK(QueuedFor(hub, "dev1") == 1);

  auto device = Connect(hub, "dev1");
  auto d = NextDelivery(*device);
  REQUIRE(d);
  CHECK(d->publish.topic.rfind("devices/dev1/messages/devicebound/", 0) == 0);
  CHECK(d->publish.payload == "turn on");
  CHECK(d->publish.qos == 1);
  CHECK(d->bag["$.mid"] == "c2d-1");
  CHECK(d->bag["$.cid"] == "corr 1");
  CHECK(d->bag["$.to"] == "/devices/dev1/messages/devicebound");
  CHECK(d->bag["room"] == "kitchen & hall");
  device->Send(mqtt::Puback{d->publish.packet_id});
  CHECK(WaitUntil([&] { return QueuedFor(hub, "dev1") == 0; }));  // the PUBACK completes it

  // While connected, new messages go out at once; JSON bodies get a JSON content type.
  REQUIRE(SendC2d(hub, "dev1", {{"body", {{"on", true}}}})->status == 200);
  auto live = NextDelivery(*device);
  REQUIRE(live);
  CHECK(json::parse(live->publish.payload) == json{{"on", true}});
  CHECK(live->bag["$.ct"] == "application/json");
}

TEST_CASE("C2D: a message not acknowledged is delivered again on the next connection") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  REQUIRE(SendC2d(hub, "dev1", {{"body", "once more"}, {"messageId", "m"}})->status == 200);
  {
    auto device = Connect(hub, "dev1");
    REQUIRE(NextDelivery(*device));
    device->Abort();  // gone before its PUBACK
  }
  REQUIRE(WaitDisconnected(hub, "dev1"));
  auto device = Connect(hub, "dev1");
  auto again = NextDelivery(*device);
  REQUIRE(again);
  CHECK(again->bag["$.mid"] == "m");
  device->Send(mqtt::Puback{again->publish.packet_id});
  CHECK(WaitUntil([&] { return QueuedFor(hub, "dev1") == 0; }));
  CHECK_FALSE(NextDelivery(*device, 300ms));  // and not a third time: a short wait for what must not come
}

TEST_CASE("C2D: with CleanSession=0 the subscription outlives the connection, so queued messages arrive without a new SUBSCRIBE") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  Connect(hub, "dev1", /*clean=*/false)->Send(mqtt::Disconnect{});
  REQUIRE(WaitDisconnected(hub, "dev1"));
  REQUIRE(SendC2d(hub, "dev1", {{"body", "while away"}})->status == 200);
  auto device = Connect(hub, "dev1", false, /*subscribe=*/false);
  auto d = NextDelivery(*device);
  REQUIRE(d);
  CHECK(d->publish.payload == "while away");
}

TEST_CASE("C2D: at most 50 wait per device, expired ones are dropped, purge empties the queue") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  for (int i = 0; i < 50; ++i) REQUIRE(SendC2d(hub, "dev1", {{"body", std::to_string(i)}})->status == 200);
  auto full = SendC2d(hub, "dev1", {{"body", "one too many"}});
  CHECK(full->status == 403);
  CHECK(ErrorCodeOf(full) == "DeviceMaximumQueueDepthExceeded");
  CHECK(QueuedFor(hub, "dev1") == 50);
  auto purged = hub.Delete("/devices/dev1/commands");
  REQUIRE(purged->status == 200);
  CHECK(json::parse(purged->body)["totalMessagesPurged"] == 50);
  CHECK(QueuedFor(hub, "dev1") == 0);

  REQUIRE(SendC2d(hub, "dev1", {{"body", "stale"}, {"ttlSeconds", 1}})->status == 200);
  CHECK(WaitUntil([&] { return QueuedFor(hub, "dev1") == 0; }));  // expires after its second
  auto device = Connect(hub, "dev1");
  CHECK_FALSE(NextDelivery(*device, 500ms));  // a short wait for what must not come
}

TEST_CASE("C2D: two devices never see each other's messages, and bad requests are refused") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "a");
  CreateTestDevice(hub, "b");
  auto a = Connect(hub, "a");
  auto b = Connect(hub, "b");
  REQUIRE(SendC2d(hub, "a", {{"body", "for a"}})->status == 200);
  REQUIRE(SendC2d(hub, "b", {{"body", "for b"}})->status == 200);
  auto for_a = NextDelivery(*a);
  auto for_b = NextDelivery(*b);
  REQUIRE(for_a);
  REQUIRE(for_b);
  CHECK(for_a->publish.payload == "for a");
  CHECK(for_b->publish.payload == "for b");
  CHECK_FALSE(NextDelivery(*a, 300ms));  // a short wait for what must not come

  CHECK(ErrorCodeOf(SendC2d(hub, "ghost", {{"body", "x"}})) == "DeviceNotFound");
  CHECK(SendC2d(hub, "a", {{"ack", "sometimes"}})->status == 400);
  CHECK(SendC2d(hub, "a", {{"ttlSeconds", 0}})->status == 400);
  CHECK(SendC2d(hub, "a", {{"properties", {{"n", 1}}}})->status == 400);
  CHECK(ErrorCodeOf(SendC2d(hub, "a", {{"properties", {{"$.ct", "text/plain"}}}})) == "ArgumentInvalid");
  CHECK(hub.Delete("/devices/ghost/commands")->status == 404);
  auto read_only = hub.Post("/emulator/devices/a/messages", R"({"body":"x"})",
                            {{"Authorization", EmulatorProcess::PolicyToken("registryRead", "P86A3ZPhPNuea+fgHNi5z6Ume9BDT6b6IyjXNHuR488=")}});
  CHECK(read_only->status == 401);
}

}  // namespace iothub::testing

namespace iothub::testing {

TEST_CASE("C2D: iothub c2d send goes over AMQP as the service SDK does, plain AMQP too, and --rest keeps the REST path") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  auto device = Connect(hub, "dev1");
  auto cli = [&](const std::string& args, const std::string& key = kOwnerKey) {
    return RunCommand("IOTHUB_CONNECTION_STRING='HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=" +
                      key + "' " IOTHUB_CLI " --ca " + TestCaPath() + " --https-port " +
                      std::to_string(hub.https_port()) + " c2d send " + args);
  };

  auto [sent, output] = cli("dev1 'over amqp' --message-id a-1 --correlation-id c-1 --property room=hall "
                            "--content-type text/plain --amqp-port " + std::to_string(hub.amqp_port()));
  CAPTURE(output);
  CHECK(sent == 0);
  CHECK(output == "Queued for dev1\n");
  auto d = NextDelivery(*device);
  REQUIRE(d);
  CHECK(d->publish.payload == "over amqp");
  CHECK(d->bag["$.mid"] == "a-1");
  CHECK(d->bag["$.cid"] == "c-1");
  CHECK(d->bag["$.ct"] == "text/plain");
  CHECK(d->bag["room"] == "hall");
  device->Send(mqtt::Puback{d->publish.packet_id});

  auto [plain, plain_output] = cli("dev1 plain --amqp-plain --amqp-port " + std::to_string(hub.amqp_plain_port()));
  CAPTURE(plain_output);
  CHECK(plain == 0);
  auto p = NextDelivery(*device);
  REQUIRE(p);
  CHECK(p->publish.payload == "plain");
  device->Send(mqtt::Puback{p->publish.packet_id});

  auto [rest, rest_output] = cli("dev1 'by rest' --rest");
  CAPTURE(rest_output);
  CHECK(rest == 0);
  CHECK(rest_output.find("Queued for dev1 (") == 0);
  auto r = NextDelivery(*device);
  REQUIRE(r);
  CHECK(r->publish.payload == "by rest");
  device->Send(mqtt::Puback{r->publish.packet_id});

  // The hub's refusals are the CLI's exit codes: 4 not found, 3 unauthorized, 5 otherwise; 2 unreachable.
  const std::string amqp = " --amqp-port " + std::to_string(hub.amqp_port());
  auto [missing, missing_output] = cli("nobody hello" + amqp);
  CHECK(missing == 4);
  CHECK(missing_output.find("amqp:not-found") != std::string::npos);
  auto [refused, refused_output] = cli("dev1 hello" + amqp, "d3JvbmcgdGhpcyBrZXkgaXMgd3Jvbmcgd3Jvbmcgd3Jvbmc=");
  CHECK(refused == 3);
  CHECK(refused_output.find("refused the token") != std::string::npos);
  auto [large, large_output] = cli("dev1 " + std::string(70000, 'a') + amqp);
  CHECK(large == 5);
  CHECK(large_output.find("amqp:link:message-size-exceeded") != std::string::npos);
  auto [away, away_output] = cli("dev1 hello --amqp-port 1");
  CHECK(away == 2);
  CHECK(WaitUntil([&] { return QueuedFor(hub, "dev1") == 0; }));  // each completed, none refused was queued
}

}  // namespace iothub::testing
