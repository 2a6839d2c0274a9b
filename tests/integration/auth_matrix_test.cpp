// One table of credentials, good and bad, against both front doors over real TLS:
// what a device sees in its CONNACK (spec §2.2: 5 Not Authorized for bad
// credentials, 4 when the user name or password is missing or unusable) and what
// a back end sees from REST (spec §4.4: 401, the legacy body with
// ErrorCode:IotHubUnauthorizedAccess, the iothub-errorcode header). Each table
// has rows that must pass, so neither can pass by refusing everything.
#include <doctest/doctest.h>

#include <thread>

#include "core/sas_token.h"
#include "integration/emulator_process.h"
#include "integration/mqtt_test_client.h"
#include "mqtt/codec/mqtt_codec.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using mqtt::ConnectReturnCode;

const std::string kKeyA = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=";  // dev1's primary, every device's
const std::string kKeyB = "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=";  // dev1's secondary
const std::string kKeyC = "Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2M=";  // dev2's keys: not dev1's
const std::string kForgedKey = "ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=";  // nobody's
const std::string kServiceKey = "kif8csu1RvNjpgNgk7Wx+OVv6S1Jw2wQ2/7O8s3lxUo=";
const std::string kDevicePolicyKey = "kMV6vdJRIMnwaA8ZeMlGmjphOCm7oHAMyKDqWtmmJn0=";
const std::string kRegistryReadKey = "P86A3ZPhPNuea+fgHNi5z6Ume9BDT6b6IyjXNHuR488=";
const std::string kRegistryReadWriteKey = "9l2AAH9GSx29Ecpw5xA34nb928rIY4gAtS7g5lHH6qg=";
const std::string kHubHost = "emulator.azure-devices.net";  // the default --hub-name's host

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void CreateDevice(const EmulatorProcess& hub, const std::string& id, const std::string& primary,
                  const std::string& secondary, const std::string& status = "enabled") {
  json body = {{"deviceId", id},
               {"status", status},
               {"authentication", {{"symmetricKey", {{"primaryKey", primary}, {"secondaryKey", secondary}}}}}};
  auto res = hub.Put("/devices/" + id, body.dump());
  REQUIRE(res);
  REQUIRE(res->status == 200);
}

// A token of resource (encoded as the device SDK does) signed with key, expiring at se.
std::string TokenAt(const std::string& resource, const std::string& key, int64_t se,
                    std::optional<std::string> policy = std::nullopt) {
  return CreateSasToken(resource, key, se, policy);
}

// A valid token whose `se` was moved after signing, as one would stretch a stolen token.
std::string WithExpiryChanged(const std::string& token, int64_t se) {
  return token.substr(0, token.rfind("&se=")) + "&se=" + std::to_string(se);
}

// A service token (raw sr, as the service SDK writes it) expiring at se.
std::string ServiceToken(const std::string& policy, const std::string& key, const std::string& sr, int64_t se) {
  return "SharedAccessSignature sr=" + sr + "&sig=" + *SignSas(sr, se, key) + "&skn=" + policy + "&se=" +
         std::to_string(se);
}

std::string User(const std::string& device_id, const std::string& host = "localhost") {
  return host + "/" + device_id + "/?api-version=2021-04-12";
}

}  // namespace

TEST_CASE("Auth matrix, MQTT: each credential gets IoT Hub's CONNACK code and a refusal closes the connection") {
  EmulatorProcess hub;
  CreateDevice(hub, "dev1", kKeyA, kKeyB);
  CreateDevice(hub, "dev10", kKeyA, kKeyA);  // "dev1" is a string prefix of its id, not a segment prefix
  CreateDevice(hub, "dev2", kKeyC, kKeyC);
  CreateDevice(hub, "off", kKeyA, kKeyA, "disabled");
  const int64_t hour = Now() + 3600;
  const std::string dev1 = "localhost/devices/dev1";
  const std::string good = TokenAt(dev1, kKeyA, hour);

  struct Case {
    const char* name;
    std::string device_id;                // client id
    std::optional<std::string> username;  // absent: no user name flag
    std::optional<std::string> password;  // absent: no password flag
    ConnectReturnCode expected;
  };
  const auto kOk = ConnectReturnCode::kAccepted;
  const auto kNotAuthorized = ConnectReturnCode::kNotAuthorized;
  const auto kBadCredentials = ConnectReturnCode::kBadUserNameOrPassword;
  const Case cases[] = {
      // Positive controls.
      {"device primary key", "dev1", User("dev1"), good, kOk},
      {"device secondary key", "dev1", User("dev1"), TokenAt(dev1, kKeyB, hour), kOk},
      {"device policy scoped to the device", "dev1", User("dev1"), TokenAt(dev1, kDevicePolicyKey, hour, "device"), kOk},
      {"owner policy scoped to the hub", "dev1", User("dev1"), TokenAt("localhost", kOwnerKey, hour, "iothubowner"), kOk},
      {"the hub's cloud host name in sr and user name", "dev1", User("dev1", kHubHost),
       TokenAt(kHubHost + "/devices/dev1", kKeyA, hour), kOk},
      {"host in upper case", "dev1", User("dev1", "LOCALHOST"), TokenAt("LOCALHOST/devices/dev1", kKeyA, hour), kOk},
      {"a token valid for ten years", "dev1", User("dev1"), TokenAt(dev1, kKeyA, Now() + 10 * 366 * 86400), kOk},
      // "Never expires" tokens: nothing in IoT Hub's rules (spec §1.1) caps `se`.
      {"expiry 9999999999 (year 2286)", "dev1", User("dev1"), TokenAt(dev1, kKeyA, 9999999999), kOk},
      {"expiry at the largest 64-bit integer", "dev1", User("dev1"), TokenAt(dev1, kKeyA, INT64_MAX), kOk},
      // Signatures.
      {"forged signature", "dev1", User("dev1"), TokenAt(dev1, kForgedKey, hour), kNotAuthorized},
      {"expiry moved after signing", "dev1", User("dev1"), WithExpiryChanged(good, hour + 3600), kNotAuthorized},
      {"device key presented as the device policy", "dev1", User("dev1"), TokenAt(dev1, kKeyA, hour, "device"),
       kNotAuthorized},
      {"unknown policy", "dev1", User("dev1"), TokenAt(dev1, kOwnerKey, hour, "root"), kNotAuthorized},
      // Expiry.
      {"expired", "dev1", User("dev1"), TokenAt(dev1, kKeyA, Now() - 5), kNotAuthorized},
      {"expires now", "dev1", User("dev1"), TokenAt(dev1, kKeyA, Now()), kNotAuthorized},
      {"negative expiry", "dev1", User("dev1"), TokenAt(dev1, kKeyA, -1), kNotAuthorized},
      {"expiry not a number", "dev1", User("dev1"), good.substr(0, good.rfind("&se=")) + "&se=soon", kNotAuthorized},
      {"expiry beyond 64 bits", "dev1", User("dev1"), good.substr(0, good.rfind("&se=")) + "&se=99999999999999999999",
       kNotAuthorized},
      // Scope: another device, a wider or narrower resource.
      {"another device's token", "dev1", User("dev1"), TokenAt("localhost/devices/dev2", kKeyC, hour), kNotAuthorized},
      {"dev1's token for dev10", "dev10", User("dev10"), TokenAt(dev1, kKeyA, hour), kNotAuthorized},
      {"device key scoped to the whole hub", "dev1", User("dev1"), TokenAt("localhost", kKeyA, hour), kNotAuthorized},
      {"device key scoped to a module", "dev1", User("dev1"), TokenAt(dev1 + "/modules/m1", kKeyA, hour),
       kNotAuthorized},
      {"device policy scoped to another device", "dev1", User("dev1"),
       TokenAt("localhost/devices/dev2", kDevicePolicyKey, hour, "device"), kNotAuthorized},
      // The device itself.
      {"disabled device, own key", "off", User("off"), TokenAt("localhost/devices/off", kKeyA, hour), kNotAuthorized},
      {"disabled device, owner policy", "off", User("off"),
       TokenAt("localhost/devices/off", kOwnerKey, hour, "iothubowner"), kNotAuthorized},
      {"unknown device, device policy", "ghost", User("ghost"),
       TokenAt("localhost/devices/ghost", kDevicePolicyKey, hour, "device"), kNotAuthorized},
      // Host.
      {"token for another host", "dev1", User("dev1"), TokenAt("other.azure-devices.net/devices/dev1", kKeyA, hour),
       kNotAuthorized},
      {"user name for another host", "dev1", User("dev1", "other.azure-devices.net"), good, kNotAuthorized},
      // Policies without DeviceConnect.
      {"registryRead policy", "dev1", User("dev1"), TokenAt(dev1, kRegistryReadKey, hour, "registryRead"),
       kNotAuthorized},
      {"registryReadWrite policy", "dev1", User("dev1"),
       TokenAt(dev1, kRegistryReadWriteKey, hour, "registryReadWrite"), kNotAuthorized},
      {"service policy", "dev1", User("dev1"), TokenAt(dev1, kServiceKey, hour, "service"), kNotAuthorized},
      // Not a token at all.
      {"garbage password", "dev1", User("dev1"), "hunter2", kNotAuthorized},
      {"empty password", "dev1", User("dev1"), "", kNotAuthorized},
      {"token without sig", "dev1", User("dev1"), "SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&se=" +
       std::to_string(hour), kNotAuthorized},
      {"client id is not the user name's device", "dev2", User("dev1"), good, kNotAuthorized},
      // Missing or unusable user name or password.
      {"no password", "dev1", User("dev1"), std::nullopt, kBadCredentials},
      {"no user name or password", "dev1", std::nullopt, std::nullopt, kBadCredentials},
      {"user name that is not {host}/{deviceId}/", "dev1", "dev1", good, kBadCredentials},
  };
  int accepted = 0, refused = 0;
  for (const Case& c : cases) {
    const std::string row = c.name;
    CAPTURE(row);
    MqttTestClient client(hub.mqtt_port());
    mqtt::Connect connect;
    connect.client_id = c.device_id;
    connect.username = c.username;
    connect.password = c.password;
    client.Send(connect);
    auto reply = client.Receive();
    REQUIRE(reply);
    REQUIRE(std::holds_alternative<mqtt::Connack>(*reply));
    const auto& connack = std::get<mqtt::Connack>(*reply);
    CHECK(static_cast<int>(connack.return_code) == static_cast<int>(c.expected));
    CHECK_FALSE(connack.session_present);
    if (c.expected == kOk) {
      ++accepted;
      client.Send(mqtt::Pingreq{});  // the connection is really open, not closed after the CONNACK
      auto pong = client.Receive(2s);
      CHECK((pong && std::holds_alternative<mqtt::Pingresp>(*pong)));
      client.Send(mqtt::Disconnect{});
    } else {
      ++refused;
    }
    CHECK(client.WaitClosed());
  }
  CHECK(accepted == 9);
  CHECK(refused == 29);
  for (const char* id : {"dev1", "dev10", "dev2", "off"}) {
    CAPTURE(id);
    CHECK(json::parse(hub.Get(std::string("/devices/") + id)->body)["connectionState"] == "Disconnected");
  }
  CHECK(json::parse(hub.Get("/statistics/service")->body)["connectedDeviceCount"] == 0);
}

TEST_CASE("Auth matrix, MQTT: a token that never expires keeps its connection past the session's timer checks") {
  EmulatorProcess hub;
  CreateDevice(hub, "forever1", kKeyA, kKeyA);
  CreateDevice(hub, "forever2", kKeyA, kKeyA);
  // se past what a nanosecond clock holds (year 2262): "never expires" tokens are made like this.
  MqttTestClient a(hub.mqtt_port()), b(hub.mqtt_port());
  auto connack_a = a.Connect("forever1", TokenAt("localhost/devices/forever1", kKeyA, 9999999999), /*keep_alive=*/2);
  auto connack_b = b.Connect("forever2", TokenAt("localhost/devices/forever2", kKeyA, INT64_MAX), 2);
  REQUIRE(connack_a);
  REQUIRE(connack_b);
  CHECK(connack_a->return_code == ConnectReturnCode::kAccepted);
  CHECK(connack_b->return_code == ConnectReturnCode::kAccepted);
  // The keep-alive allowance is 3 s: pinging past it makes the session check its token at least once.
  const auto until = std::chrono::steady_clock::now() + 4s;
  int pongs = 0;
  while (std::chrono::steady_clock::now() < until) {
    for (MqttTestClient* client : {&a, &b}) {
      client->Send(mqtt::Pingreq{});
      auto pong = client->Receive(1s);
      if (pong && std::holds_alternative<mqtt::Pingresp>(*pong)) ++pongs;
    }
    std::this_thread::sleep_for(500ms);  // the ping interval of a client with keep-alive 2 s, not a wait for an event
  }
  CHECK_FALSE(a.closed());
  CHECK_FALSE(b.closed());
  CHECK(pongs >= 12);
}

TEST_CASE("Auth matrix, REST: each credential gets 200 or 401 IotHubUnauthorizedAccess, and a refused write writes nothing") {
  EmulatorProcess hub;
  CreateDevice(hub, "dev1", kKeyA, kKeyB);
  CreateDevice(hub, "dev10", kKeyA, kKeyA);
  const int64_t hour = Now() + 3600;
  const std::string owner = ServiceToken("iothubowner", kOwnerKey, "localhost", hour);

  enum class Method { kGet, kPut, kDelete };
  struct Case {
    const char* name;
    Method method;
    std::string path;
    std::optional<std::string> authorization;  // absent: no Authorization header
    int status;
  };
  const Case cases[] = {
      // Positive controls.
      {"owner reads a device", Method::kGet, "/devices/dev1", owner, 200},
      {"owner lists devices", Method::kGet, "/devices", owner, 200},
      {"owner token scoped to the device", Method::kGet, "/devices/dev1",
       ServiceToken("iothubowner", kOwnerKey, "localhost/devices/dev1", hour), 200},
      {"the hub's cloud host name", Method::kGet, "/devices/dev1", ServiceToken("iothubowner", kOwnerKey, kHubHost, hour),
       200},
      {"registryRead reads", Method::kGet, "/devices/dev1", ServiceToken("registryRead", kRegistryReadKey, "localhost", hour),
       200},
      {"registryReadWrite creates", Method::kPut, "/devices/made-by-rw",
       ServiceToken("registryReadWrite", kRegistryReadWriteKey, "localhost", hour), 200},
      {"service reads the event log", Method::kGet, "/emulator/events",
       ServiceToken("service", kServiceKey, "localhost", hour), 200},
      // Missing or garbage.
      {"no Authorization header", Method::kGet, "/devices/dev1", std::nullopt, 401},
      {"empty Authorization header", Method::kGet, "/devices/dev1", "", 401},
      {"a bearer token", Method::kGet, "/devices/dev1", "Bearer abc", 401},
      {"token without sig", Method::kGet, "/devices/dev1",
       "SharedAccessSignature sr=localhost&skn=iothubowner&se=" + std::to_string(hour), 401},
      {"expiry not a number", Method::kGet, "/devices/dev1", owner.substr(0, owner.rfind("&se=")) + "&se=soon", 401},
      // Signatures and expiry.
      {"forged signature", Method::kGet, "/devices/dev1", ServiceToken("iothubowner", kForgedKey, "localhost", hour), 401},
      {"expiry moved after signing", Method::kGet, "/devices/dev1", WithExpiryChanged(owner, hour + 3600), 401},
      {"unknown policy", Method::kGet, "/devices/dev1", ServiceToken("root", kOwnerKey, "localhost", hour), 401},
      {"expired", Method::kGet, "/devices/dev1", ServiceToken("iothubowner", kOwnerKey, "localhost", Now() - 5), 401},
      // Host and scope.
      {"token for another host", Method::kGet, "/devices/dev1",
       ServiceToken("iothubowner", kOwnerKey, "other.azure-devices.net", hour), 401},
      {"dev1-scoped token on dev10", Method::kGet, "/devices/dev10",
       ServiceToken("iothubowner", kOwnerKey, "localhost/devices/dev1", hour), 401},
      {"dev1-scoped token lists all devices", Method::kGet, "/devices",
       ServiceToken("iothubowner", kOwnerKey, "localhost/devices/dev1", hour), 401},
      // Policies without the permission.
      {"registryRead creates", Method::kPut, "/devices/made-by-read",
       ServiceToken("registryRead", kRegistryReadKey, "localhost", hour), 401},
      {"registryRead deletes", Method::kDelete, "/devices/dev1",
       ServiceToken("registryRead", kRegistryReadKey, "localhost", hour), 401},
      {"service creates", Method::kPut, "/devices/made-by-service",
       ServiceToken("service", kServiceKey, "localhost", hour), 401},
      {"service reads the registry", Method::kGet, "/devices/dev1",
       ServiceToken("service", kServiceKey, "localhost", hour), 401},
      {"registryReadWrite reads the event log", Method::kGet, "/emulator/events",
       ServiceToken("registryReadWrite", kRegistryReadWriteKey, "localhost", hour), 401},
      {"device policy reads the registry", Method::kGet, "/devices/dev1",
       ServiceToken("device", kDevicePolicyKey, "localhost", hour), 401},
      // Device keys grant nothing on service endpoints.
      {"device key reads itself", Method::kGet, "/devices/dev1", TokenAt("localhost/devices/dev1", kKeyA, hour), 401},
      {"device key deletes itself", Method::kDelete, "/devices/dev1", TokenAt("localhost/devices/dev1", kKeyA, hour),
       401},
  };
  int allowed = 0, refused = 0;
  for (const Case& c : cases) {
    const std::string row = c.name;
    CAPTURE(row);
    auto cli = hub.Client();
    httplib::Headers headers;
    if (c.authorization) headers.emplace("Authorization", *c.authorization);
    httplib::Result res = c.method == Method::kGet   ? cli->Get(c.path, headers)
                          : c.method == Method::kPut ? cli->Put(c.path, headers, "{}", "application/json; charset=utf-8")
                                                     : cli->Delete(c.path, headers);
    REQUIRE(res);
    CHECK(res->status == c.status);
    if (c.status != 401) {
      ++allowed;
      continue;
    }
    ++refused;
    CHECK(ErrorCodeOf(res) == "IotHubUnauthorizedAccess");
    CHECK(res->get_header_value("iothub-errorcode") == "IotHubUnauthorizedAccess");
    CHECK(res->get_header_value("Content-Type").starts_with("application/json"));
    // The Node SDK needs text after "ErrorCode:<Name>;" to use the code at all (spec §4.4).
    json body = json::parse(res->body, nullptr, false);
    REQUIRE(body.is_object());
    const std::string message = body.value("Message", "");
    CHECK(message.size() > message.find(';') + 1);
    CHECK(body.value("ExceptionMessage", "").starts_with("Tracking ID:"));
  }
  CHECK(allowed == 7);
  CHECK(refused == 20);

  // Nothing a refused request asked for happened.
  CHECK(hub.Get("/devices/made-by-rw")->status == 200);
  CHECK(hub.Get("/devices/made-by-read")->status == 404);
  CHECK(hub.Get("/devices/made-by-service")->status == 404);
  CHECK(hub.Get("/devices/dev1")->status == 200);
}

}  // namespace iothub::testing
