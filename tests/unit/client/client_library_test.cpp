#include <doctest/doctest.h>

#include "core/sas_token.h"
#include "iothub/connection_string.h"
#include "iothub/device_client.h"
#include "iothub/sas_token.h"

namespace iothub::client {

TEST_CASE("Client connection strings: parsed as the SDKs parse them") {
  auto cs = DeviceConnectionString::Parse(
      "HostName=localhost:8883;DeviceId=dev1;SharedAccessKey=a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=;;"
      "GatewayHostName=gw.local");
  CHECK(cs.host_name == "localhost:8883");
  CHECK(cs.device_id == "dev1");
  CHECK(cs.shared_access_key == "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=");  // '=' kept: split at the first '='
  CHECK(cs.gateway_host_name == "gw.local");
  CHECK(SplitHostPort(cs.host_name, 1) == std::make_pair(std::string("localhost"), 8883));
  CHECK(SplitHostPort("localhost", 8883) == std::make_pair(std::string("localhost"), 8883));

  auto policy = DeviceConnectionString::Parse("HostName=h;DeviceId=d;SharedAccessKeyName=device;SharedAccessKey=k=");
  CHECK(policy.shared_access_key_name == "device");
  CHECK(DeviceConnectionString::Parse(policy.ToString()).ToString() == policy.ToString());

  CHECK_THROWS_AS(DeviceConnectionString::Parse("HostName=h;DeviceId=d"), std::invalid_argument);
  CHECK_THROWS_AS(DeviceConnectionString::Parse("DeviceId=d;SharedAccessKey=k"), std::invalid_argument);
  auto hub = HubConnectionString::Parse("HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=x=");
  CHECK(hub.shared_access_key_name == "iothubowner");
  CHECK_THROWS_AS(HubConnectionString::Parse("HostName=localhost;SharedAccessKey=x"), std::invalid_argument);
}

TEST_CASE("Client SAS tokens: the emulator's verifier accepts them for the right key only") {
  const std::string key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
  const std::string token = MakeSasToken("localhost:8883/devices/dev 1", key, 2000000000);
  auto parsed = ParseSasToken(token);
  REQUIRE(parsed.ok());
  CHECK(parsed->resource == "localhost:8883/devices/dev 1");
  CHECK(SasSignatureMatches(*parsed, key));
  CHECK_FALSE(SasSignatureMatches(*parsed, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
  CHECK(SasTokenExpiry(token) == 2000000000);
  CHECK(ParseSasToken(MakeSasToken("h/devices/d", key, 1, std::string("device")))->key_name == "device");
  CHECK_THROWS_AS(MakeSasToken("h", "not base64!", 1), std::invalid_argument);
}

TEST_CASE("Client telemetry topics: system properties as %24. keys, everything URL-encoded") {
  Message m{"{}", "m 1", "c/1", "application/json", "utf-8", {{"a&b", "x=y"}}};
  CHECK(TelemetryTopic("dev1", m) ==
        "devices/dev1/messages/events/%24.mid=m%201&%24.cid=c%2F1&%24.ct=application%2Fjson&%24.ce=utf-8&a%26b=x%3Dy");
  CHECK(TelemetryTopic("dev1", Message{"x", {}, {}, {}, {}, {}}) == "devices/dev1/messages/events/");
}

}  // namespace iothub::client
