// SAS authorisation of the REST API over real HTTPS (spec §1).
#include <doctest/doctest.h>

#include "core/sas_token.h"
#include "integration/emulator_process.h"

namespace iothub::testing {

TEST_CASE("REST auth: every refusal is 401 IotHubUnauthorizedAccess and a valid owner token passes") {
  EmulatorProcess hub;
  nlohmann::json device = nlohmann::json::parse(hub.Put("/devices/dev1", "{}")->body);
  const std::string device_key = device["authentication"]["symmetricKey"]["primaryKey"];
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();

  struct Case {
    const char* name;
    std::string authorization;  // "" = header absent
    int status;
  };
  const Case cases[] = {
      {"owner token", EmulatorProcess::PolicyToken(), 200},
      {"owner secondary key", EmulatorProcess::PolicyToken("iothubowner", "X7/lzhiJb8Xlx7YE6sn0cwaKBwN+ZvClnd18ZjNdgn0="),
       200},
      {"registryRead may read", EmulatorProcess::PolicyToken("registryRead", "P86A3ZPhPNuea+fgHNi5z6Ume9BDT6b6IyjXNHuR488="),
       200},
      {"no Authorization header", "", 401},
      {"not a SAS token", "Bearer abc", 401},
      {"expired", EmulatorProcess::PolicyToken("iothubowner", kOwnerKey, "localhost", -10), 401},
      {"forged signature", EmulatorProcess::PolicyToken("iothubowner", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), 401},
      {"unknown policy", EmulatorProcess::PolicyToken("root", kOwnerKey), 401},
      {"another host", EmulatorProcess::PolicyToken("iothubowner", kOwnerKey, "elsewhere.azure-devices.net"), 401},
      {"service policy lacks RegistryRead",
       EmulatorProcess::PolicyToken("service", "kif8csu1RvNjpgNgk7Wx+OVv6S1Jw2wQ2/7O8s3lxUo="), 401},
      {"device key on a service endpoint", CreateSasToken("localhost/devices/dev1", device_key, now + 600), 401},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    httplib::Headers headers;
    if (!c.authorization.empty()) headers.emplace("Authorization", c.authorization);
    auto res = c.authorization.empty() ? hub.Client()->Get("/devices/dev1") : hub.Get("/devices/dev1", headers);
    REQUIRE(res);
    CHECK(res->status == c.status);
    if (c.status == 401) {
      CHECK(ErrorCodeOf(res) == "IotHubUnauthorizedAccess");
      CHECK(res->get_header_value("iothub-errorcode") == "IotHubUnauthorizedAccess");
    }
  }

  auto read_only_write = hub.Put("/devices/dev2", "{}",
                                 {{"Authorization", EmulatorProcess::PolicyToken(
                                                        "registryRead", "P86A3ZPhPNuea+fgHNi5z6Ume9BDT6b6IyjXNHuR488=")}});
  CHECK(read_only_write->status == 401);
  CHECK(hub.Get("/devices/dev2")->status == 404);  // nothing was written
}

TEST_CASE("REST auth: overridden policy keys replace the documented defaults") {
  const std::string key = "bmV3a2V5bmV3a2V5bmV3a2V5bmV3a2V5bmV3a2V5MTI=";
  EmulatorProcess hub({"--iothubowner-key", key});
  CHECK(hub.Get("/devices", {{"Authorization", EmulatorProcess::PolicyToken("iothubowner", key)}})->status == 200);
  CHECK(hub.Get("/devices")->status == 401);
}

}  // namespace iothub::testing
