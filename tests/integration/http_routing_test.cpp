// How the REST API reads a request's path and headers, over real HTTPS: routing
// on the raw path, device ids decoded once, and IoT Hub's 400 for what cannot be one.
#include <doctest/doctest.h>

#include <chrono>

#include "core/sas_token.h"
#include "integration/emulator_process.h"
#include "integration/raw_https_client.h"

namespace iothub::testing {
namespace {

using nlohmann::json;

struct BadId {
  const char* name;
  const char* encoded;
};

// Each is one path segment as sent; none decodes to a device id IoT Hub allows.
const BadId kBadIds[] = {
    {"an encoded '/'", "a%2Fb"},
    {"a lone encoded '/'", "%2F"},
    {"invalid UTF-8", "%FF"},
    {"a broken escape", "a%G1"},
    {"a truncated escape", "ab%4"},
};

}  // namespace

TEST_CASE("REST routing: a device id that is not one is 400 ArgumentInvalid on /devices and /twins") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "a");  // so that a path split at the '/' of "a%2Fb" would name something
  for (const BadId& id : kBadIds) {
    for (const char* resource : {"/devices/", "/twins/"}) {
      const std::string path = resource + std::string(id.encoded) + "?api-version=2021-04-12";
      CAPTURE(id.name);
      CAPTURE(path);
      auto got = hub.Get(path);
      REQUIRE(got);
      CHECK(got->status == 400);
      CHECK(ErrorCodeOf(got) == "ArgumentInvalid");
      CHECK(got->get_header_value("iothub-errorcode") == "ArgumentInvalid");
      auto put = hub.Put(path, R"({})");
      REQUIRE(put);
      CHECK(put->status == 400);
      CHECK(ErrorCodeOf(put) == "ArgumentInvalid");
    }
  }
  auto deeper = hub.Delete("/devices/a%2Fb/commands");
  REQUIRE(deeper);
  CHECK(deeper->status == 400);
  CHECK(ErrorCodeOf(deeper) == "ArgumentInvalid");
  // Nothing was written on the way.
  CHECK(json::parse(hub.Get("/statistics/devices")->body)["totalDeviceCount"] == 1);
}

TEST_CASE("REST routing: an id is percent-decoded exactly once") {
  EmulatorProcess hub;
  // '%' is allowed in a device id; "%25" is how a client sends it.
  auto created = hub.Put("/devices/50%2541?api-version=2021-04-12", R"({})");
  REQUIRE(created);
  REQUIRE(created->status == 200);
  CHECK(json::parse(created->body)["deviceId"] == "50%41");
  auto got = hub.Get("/devices/50%2541");
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(json::parse(got->body)["deviceId"] == "50%41");
  // Decoding twice would read "50%41" as "50A".
  CHECK(hub.Get("/devices/50A")->status == 404);
  auto twin = hub.Get("/twins/50%2541");
  REQUIRE(twin);
  CHECK(twin->status == 200);
  CHECK(json::parse(twin->body)["deviceId"] == "50%41");
}

TEST_CASE("REST routing: a trailing slash is allowed, an empty segment is not a route") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  CHECK(hub.Get("/devices/?api-version=2021-04-12")->status == 200);
  CHECK(hub.Get("/devices/dev1/")->status == 200);
  auto empty = hub.Get("/devices//");
  REQUIRE(empty);
  CHECK(empty->status == 404);
  CHECK(ErrorCodeOf(empty) == "ResourceNotFound");
  auto wrong_method = hub.Post("/twins/dev1", "{}");
  REQUIRE(wrong_method);
  CHECK(wrong_method->status == 404);
  CHECK(ErrorCodeOf(wrong_method) == "ResourceNotFound");
}

TEST_CASE("REST routing: a request without Host is 400 in IoT Hub's form") {
  EmulatorProcess hub;
  const std::string without_host = "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n";
  const std::string raw = RawHttpsExchange(hub.https_port(), without_host);
  CHECK(StatusOf(raw) == 400);
  CHECK(raw.find("ErrorCode:ArgumentInvalid;") != std::string::npos);
  CHECK(raw.find("iothub-errorcode: ArgumentInvalid") != std::string::npos);
  // The same request with a Host is answered, so it is the missing header that is refused.
  const std::string with_host = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  CHECK(StatusOf(RawHttpsExchange(hub.https_port(), with_host)) == 200);
  // The hub is named by the Host: without one there is none to answer, whatever the HTTP version.
  CHECK(StatusOf(RawHttpsExchange(hub.https_port(), "GET /health HTTP/1.0\r\n\r\n")) == 400);
}

}  // namespace iothub::testing

namespace iothub::testing {

TEST_CASE("REST auth: the Authorization header is used as sent, so a token's percent-encoded sr keeps its signature") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "dev1");
  const int64_t expiry = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count() + 3600;
  // Scoped to one device, with sr encoded and signed as the SDKs write it.
  const std::string encoded_sr = "localhost%2Fdevices%2Fdev1";
  auto as_sdk = hub.Get("/devices/dev1?api-version=2021-04-12",
                        {{"Authorization", EmulatorProcess::PolicyToken("iothubowner", kOwnerKey, encoded_sr)}});
  REQUIRE(as_sdk);
  CHECK(as_sdk->status == 200);
  // Signed over the decoded resource but sent encoded: a server that decoded the header would accept it.
  const std::string forged = "SharedAccessSignature sr=" + encoded_sr + "&sig=" +
                             *SignSas("localhost/devices/dev1", expiry, kOwnerKey) + "&skn=iothubowner&se=" +
                             std::to_string(expiry);
  auto decoded = hub.Get("/devices/dev1?api-version=2021-04-12", {{"Authorization", forged}});
  REQUIRE(decoded);
  CHECK(decoded->status == 401);
  CHECK(ErrorCodeOf(decoded) == "IotHubUnauthorizedAccess");
}

}  // namespace iothub::testing
