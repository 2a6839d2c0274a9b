// The identity registry REST API over real HTTPS (spec §4.2–4.4).
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "integration/emulator_process.h"

namespace iothub::testing {
namespace {

using nlohmann::json;

json Body(const httplib::Result& res) { return json::parse(res->body); }

const std::string kKeyA = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=";  // 32 x 'a'
const std::string kKeyB = "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=";

}  // namespace

TEST_CASE("Registry API: create with service-generated keys returns IoT Hub's Device JSON") {
  EmulatorProcess hub;
  auto res = hub.Put("/devices/dev1?api-version=2021-04-12",
                     R"({"deviceId":"dev1","authentication":{"type":"sas","symmetricKey":{"primaryKey":"","secondaryKey":""}}})");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").find("application/json") != std::string::npos);
  json d = Body(res);
  CHECK(d["deviceId"] == "dev1");
  CHECK(d["status"] == "enabled");
  CHECK(d["statusReason"].is_null());
  CHECK(d["connectionState"] == "Disconnected");
  CHECK(d["cloudToDeviceMessageCount"] == 0);
  CHECK(d["authentication"]["type"] == "sas");
  CHECK(d["authentication"]["symmetricKey"]["primaryKey"].get<std::string>().size() == 44);
  CHECK(d["authentication"]["symmetricKey"]["secondaryKey"].get<std::string>().size() == 44);
  CHECK(d["authentication"]["x509Thumbprint"]["primaryThumbprint"].is_null());
  CHECK(d["capabilities"]["iotEdge"] == false);
  CHECK(d["generationId"].get<std::string>().size() == 18);
  CHECK(d["lastActivityTime"] == "0001-01-01T00:00:00Z");
  CHECK(res->get_header_value("ETag") == "\"" + d["etag"].get<std::string>() + "\"");

  auto got = hub.Get("/devices/dev1");
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(Body(got) == d);
}

TEST_CASE("Registry API: create with given keys keeps them and a second create is 409 DeviceAlreadyExists") {
  EmulatorProcess hub;
  std::string body = R"({"deviceId":"dev1","authentication":{"symmetricKey":{"primaryKey":")" + kKeyA +
                     R"(","secondaryKey":")" + kKeyB + R"("}}})";
  auto res = hub.Put("/devices/dev1", body);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  CHECK(Body(res)["authentication"]["symmetricKey"]["primaryKey"] == kKeyA);

  auto again = hub.Put("/devices/dev1", R"({"deviceId":"dev1"})");
  CHECK(again->status == 409);
  CHECK(ErrorCodeOf(again) == "DeviceAlreadyExists");
  CHECK(again->get_header_value("iothub-errorcode") == "DeviceAlreadyExists");
  CHECK(Body(hub.Get("/devices/dev1"))["authentication"]["symmetricKey"]["primaryKey"] == kKeyA);
}

TEST_CASE("Registry API: If-Match rules for update and delete") {
  EmulatorProcess hub;
  json created = Body(hub.Put("/devices/dev1", "{}"));
  const std::string etag = created["etag"];

  auto stale = hub.Put("/devices/dev1", R"({"deviceId":"dev1","status":"disabled"})", {{"If-Match", "\"c3RhbGU=\""}});
  CHECK(stale->status == 412);
  CHECK(ErrorCodeOf(stale) == "PreconditionFailed");
  CHECK(Body(hub.Get("/devices/dev1"))["status"] == "enabled");

  auto current = hub.Put("/devices/dev1", R"({"deviceId":"dev1","status":"disabled","statusReason":"maintenance"})",
                         {{"If-Match", "\"" + etag + "\""}});
  REQUIRE(current->status == 200);
  json updated = Body(current);
  CHECK(updated["status"] == "disabled");
  CHECK(updated["statusReason"] == "maintenance");
  CHECK(updated["etag"] != etag);
  CHECK(updated["generationId"] == created["generationId"]);
  CHECK(updated["authentication"] == created["authentication"]);  // keys kept when not given

  auto star = hub.Put("/devices/dev1", R"({"deviceId":"dev1","status":"enabled"})", {{"If-Match", "\"*\""}});
  CHECK(star->status == 200);
  auto missing = hub.Put("/devices/ghost", R"({"deviceId":"ghost"})", {{"If-Match", "*"}});
  CHECK(missing->status == 404);
  CHECK(ErrorCodeOf(missing) == "DeviceNotFound");
  auto none_match = hub.Put("/devices/dev1", "{}", {{"If-None-Match", "*"}});
  CHECK(none_match->status == 412);

  auto stale_delete = hub.Delete("/devices/dev1", {{"If-Match", "\"" + etag + "\""}});
  CHECK(stale_delete->status == 412);
  CHECK(hub.Get("/devices/dev1")->status == 200);
  auto deleted = hub.Delete("/devices/dev1", {{"If-Match", "\"*\""}});
  CHECK(deleted->status == 204);
  auto gone = hub.Get("/devices/dev1");
  CHECK(gone->status == 404);
  CHECK(ErrorCodeOf(gone) == "DeviceNotFound");
  CHECK(hub.Delete("/devices/dev1")->status == 404);
}

TEST_CASE("Registry API: bad input is a 400 in IoT Hub's form and writes nothing") {
  EmulatorProcess hub;
  struct Case {
    const char* name;
    std::string path;
    std::string body;
    const char* code;
  };
  const Case cases[] = {
      {"malformed JSON", "/devices/d1", "{\"deviceId\":", "IotHubFormatError"},
      {"not an object", "/devices/d1", "[1,2]", "ArgumentInvalid"},
      {"status of the wrong type", "/devices/d1", R"({"status":true})", "ArgumentInvalid"},
      {"unknown status", "/devices/d1", R"({"status":"sleeping"})", "ArgumentInvalid"},
      {"keys of the wrong type", "/devices/d1", R"({"authentication":{"symmetricKey":{"primaryKey":5}}})",
       "ArgumentInvalid"},
      {"key not base64", "/devices/d1",
       R"({"authentication":{"symmetricKey":{"primaryKey":"%%%","secondaryKey":"%%%"}}})", "ArgumentInvalid"},
      {"only one key", "/devices/d1", R"({"authentication":{"symmetricKey":{"primaryKey":")" + kKeyA + R"("}}})",
       "ArgumentInvalid"},
      {"unknown auth type", "/devices/d1", R"({"authentication":{"type":"password"}})", "ArgumentInvalid"},
      {"iotEdge not a bool", "/devices/d1", R"({"capabilities":{"iotEdge":"yes"}})", "ArgumentInvalid"},
      {"body id differs from path", "/devices/d1", R"({"deviceId":"d2"})", "ArgumentInvalid"},
      {"invalid device id", "/devices/bad%23id", R"({})", "ArgumentInvalid"},
      {"device id too long", "/devices/" + std::string(129, 'x'), R"({})", "ArgumentInvalid"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    auto res = hub.Put(c.path, c.body);
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(ErrorCodeOf(res) == c.code);
    CHECK(res->get_header_value("iothub-errorcode") == c.code);
  }
  CHECK(Body(hub.Get("/statistics/devices"))["totalDeviceCount"] == 0);

  // Past the body limit (512 KiB) the connection is closed before the body is read, as
  // for every limit: no answer, and nothing written.
  auto huge = hub.Put("/devices/d1", "{\"statusReason\":\"" + std::string(600 * 1024, 'x') + "\"}");
  CHECK_FALSE(huge);
  CHECK(hub.Get("/devices/d1")->status == 404);
  CHECK(hub.Get("/health")->status == 200);  // and the server is still there
}

TEST_CASE("Registry API: list honours top and statistics count devices") {
  EmulatorProcess hub;
  for (const char* id : {"a", "b", "c"}) REQUIRE(hub.Put(std::string("/devices/") + id, "{}")->status == 200);
  REQUIRE(hub.Put("/devices/d", R"({"status":"disabled"})")->status == 200);

  json all = Body(hub.Get("/devices/?api-version=2021-04-12"));
  REQUIRE(all.size() == 4);
  CHECK(all[0]["deviceId"] == "a");
  CHECK(Body(hub.Get("/devices?top=2")).size() == 2);
  CHECK(hub.Get("/devices?top=lots")->status == 400);

  json stats = Body(hub.Get("/statistics/devices"));
  CHECK(stats == json{{"totalDeviceCount", 4}, {"enabledDeviceCount", 3}, {"disabledDeviceCount", 1}});
  json service = Body(hub.Get("/statistics/service"));
  CHECK(service["connectedDeviceCount"] == 0);
}

TEST_CASE("Registry API: bulk create, update and delete with per-device errors") {
  EmulatorProcess hub;
  auto created = hub.Post("/devices", R"([{"id":"b1","importMode":"create"},
                                          {"id":"b2","importMode":"create","status":"disabled"}])");
  REQUIRE(created);
  CHECK(created->status == 200);
  CHECK(Body(created) == json{{"isSuccessful", true}, {"errors", json::array()}, {"warnings", json::array()}});
  const std::string etag = Body(hub.Get("/devices/b1"))["etag"];

  auto mixed = hub.Post("/devices", R"([{"id":"b1","importMode":"create"},
                                        {"id":"b2","importMode":"UpdateIfMatchETag","eTag":"c3RhbGU="},
                                        {"id":"b1","importMode":"UpdateIfMatchETag","eTag":")" + etag +
                                        R"(","status":"disabled"}])");
  REQUIRE(mixed->status == 200);
  json result = Body(mixed);
  CHECK(result["isSuccessful"] == false);
  REQUIRE(result["errors"].size() == 2);
  CHECK(result["errors"][0]["deviceId"] == "b1");
  CHECK(result["errors"][0]["errorCode"] == "DeviceAlreadyExists");
  CHECK(result["errors"][1]["errorCode"] == "PreconditionFailed");
  CHECK(Body(hub.Get("/devices/b1"))["status"] == "disabled");

  auto removed = hub.Post("/devices", R"([{"id":"b1","importMode":"delete"},{"id":"b2","importMode":"Delete"}])");
  CHECK(Body(removed)["isSuccessful"] == true);
  CHECK(Body(hub.Get("/statistics/devices"))["totalDeviceCount"] == 0);

  json too_many = json::array();
  for (int i = 0; i < 101; ++i) too_many.push_back({{"id", "x" + std::to_string(i)}, {"importMode", "create"}});
  CHECK(hub.Post("/devices", too_many.dump())->status == 400);
  CHECK(hub.Post("/devices", R"([{"importMode":"create"}])")->status == 400);
  CHECK(hub.Post("/devices", R"({"id":"x"})")->status == 400);
  CHECK(Body(hub.Get("/statistics/devices"))["totalDeviceCount"] == 0);
}

TEST_CASE("Registry API: IoT Edge devices get a scope, and children name an existing Edge parent by it") {
  EmulatorProcess hub;
  json edge = Body(hub.Put("/devices/edge1", R"({"deviceId":"edge1","capabilities":{"iotEdge":true}})"));
  CHECK(edge["deviceScope"] == "ms-azure-iot-edge://edge1-" + edge["generationId"].get<std::string>());
  CHECK(edge["parentScopes"] == json::array());
  const std::string scope = edge["deviceScope"];

  // A leaf names its parent with deviceScope and gets it as its parentScopes.
  auto leaf = hub.Put("/devices/leaf1", R"({"deviceId":"leaf1","deviceScope":")" + scope + R"("})");
  REQUIRE(leaf->status == 200);
  CHECK(Body(leaf)["deviceScope"] == scope);
  CHECK(Body(leaf)["parentScopes"] == json::array({scope}));
  // A nested Edge device keeps its own scope and names its parent with parentScopes.
  auto nested = Body(hub.Put("/devices/edge2",
                             R"({"deviceId":"edge2","capabilities":{"iotEdge":true},"deviceScope":")" + scope +
                                 R"(","parentScopes":[")" + scope + R"("]})"));
  CHECK(nested["deviceScope"] == "ms-azure-iot-edge://edge2-" + nested["generationId"].get<std::string>());
  CHECK(nested["parentScopes"] == json::array({scope}));
  // GET, list and the twin show the same.
  CHECK(Body(hub.Get("/devices/leaf1"))["parentScopes"] == json::array({scope}));
  json twin = Body(hub.Get("/twins/edge2"));
  CHECK(twin["deviceScope"] == nested["deviceScope"]);
  CHECK(twin["parentScopes"] == json::array({scope}));
  for (const json& d : Body(hub.Get("/devices"))) {
    if (d["deviceId"] == "edge1") CHECK(d["deviceScope"] == scope);
  }

  struct Case {
    const char* name;
    std::string path, body;
  };
  const std::string unknown = "ms-azure-iot-edge://ghost-638000000000000000";
  const Case refused[] = {
      {"create a leaf under no device", "/devices/leaf2", R"({"deviceId":"leaf2","deviceScope":")" + unknown + R"("})"},
      {"create a leaf under a non-Edge device", "/devices/leaf2",
       R"({"deviceId":"leaf2","deviceScope":"ms-azure-iot-edge://leaf1-)" + Body(hub.Get("/devices/leaf1"))["generationId"].get<std::string>() + R"("})"},
      {"create an Edge child under no device", "/devices/edge3",
       R"({"deviceId":"edge3","capabilities":{"iotEdge":true},"parentScopes":[")" + unknown + R"("]})"},
      {"create a leaf under an arbitrary string", "/devices/leaf2", R"({"deviceId":"leaf2","deviceScope":"my-scope"})"},
  };
  for (const Case& c : refused) {
    CAPTURE(c.name);
    auto res = hub.Put(c.path, c.body);
    CHECK(res->status == 400);
    CHECK(ErrorCodeOf(res) == "InvalidDeviceScope");
  }
  CHECK(hub.Get("/devices/leaf2")->status == 404);
  CHECK(hub.Get("/devices/edge3")->status == 404);

  // Updates are checked too: a scope naming nothing, an Edge device as its own parent.
  auto moved = hub.Put("/devices/leaf1", R"({"deviceId":"leaf1","deviceScope":")" + unknown + R"("})", {{"If-Match", "*"}});
  CHECK(moved->status == 400);
  CHECK(ErrorCodeOf(moved) == "InvalidDeviceScope");
  auto own = hub.Put("/devices/edge1", R"({"deviceId":"edge1","capabilities":{"iotEdge":true},"parentScopes":[")" + scope +
                                           R"("]})", {{"If-Match", "*"}});
  CHECK(ErrorCodeOf(own) == "InvalidDeviceScope");
  CHECK(Body(hub.Get("/devices/leaf1"))["deviceScope"] == scope);
  // An empty deviceScope takes a leaf out of its parent; the Edge device's own scope cannot be changed.
  auto freed = Body(hub.Put("/devices/leaf1", R"({"deviceId":"leaf1","deviceScope":""})", {{"If-Match", "*"}}));
  CHECK_FALSE(freed.contains("deviceScope"));
  CHECK(freed["parentScopes"] == json::array());
  auto kept = Body(hub.Put("/devices/edge1", R"({"deviceId":"edge1","deviceScope":"other"})", {{"If-Match", "*"}}));
  CHECK(kept["deviceScope"] == scope);

  // Bulk reports a bad scope per device.
  json bulk = Body(hub.Post("/devices", R"([{"id":"b1","importMode":"create","deviceScope":")" + unknown +
                                            R"("},{"id":"b2","importMode":"create","deviceScope":")" + scope + R"("}])"));
  REQUIRE(bulk["errors"].size() == 1);
  CHECK(bulk["errors"][0]["deviceId"] == "b1");
  CHECK(bulk["errors"][0]["errorCode"] == "InvalidDeviceScope");
  CHECK(Body(hub.Get("/devices/b2"))["parentScopes"] == json::array({scope}));
}

TEST_CASE("Registry API: unknown paths are 404 in IoT Hub's form") {
  EmulatorProcess hub;
  auto res = hub.Get("/nothing/here");
  REQUIRE(res);
  CHECK(res->status == 404);
  CHECK_FALSE(ErrorCodeOf(res).empty());
}

TEST_CASE("Registry API: concurrent writes each get their own answer, as if one after another, and every "
          "answered one survives a crash") {
  // Writes that arrive together share one commit; each must still see the ones before it.
  const std::string dir = FreshDataDir("concurrent-writes");
  constexpr int kClients = 8, kPerClient = 20;
  std::map<std::string, std::string> etags;  // every device answered 200, with its etag
  std::mutex mu;
  std::atomic<int> contested_created{0}, contested_conflicts{0}, other{0};
  std::atomic<int> doomed_deleted{0}, doomed_missing{0};
  {
    EmulatorProcess hub({}, dir);
    REQUIRE(hub.Put("/devices/doomed", "{}")->status == 200);
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        // Everyone creates the same id once and deletes the same device once, among their own creates.
        for (int i = 0; i < kPerClient; ++i) {
          const std::string id = "c" + std::to_string(c) + "-" + std::to_string(i);
          auto res = hub.Put("/devices/" + id, "{}");
          if (res && res->status == 200) {
            std::lock_guard lock(mu);
            etags[id] = nlohmann::json::parse(res->body)["etag"];
          } else {
            ++other;
          }
          if (i == kPerClient / 2) {
            auto contested = hub.Put("/devices/contested", "{}");
            if (contested && contested->status == 200) ++contested_created;
            else if (contested && contested->status == 409 && ErrorCodeOf(contested) == "DeviceAlreadyExists")
              ++contested_conflicts;
            else ++other;
            auto doomed = hub.Delete("/devices/doomed");
            if (doomed && doomed->status == 204) ++doomed_deleted;
            else if (doomed && doomed->status == 404 && ErrorCodeOf(doomed) == "DeviceNotFound") ++doomed_missing;
            else ++other;
          }
        }
      });
    }
    for (auto& t : clients) t.join();
    CHECK(other == 0);
    CHECK(contested_created == 1);
    CHECK(contested_conflicts == kClients - 1);
    CHECK(doomed_deleted == 1);
    CHECK(doomed_missing == kClients - 1);
    CHECK(etags.size() == size_t{kClients * kPerClient});
    hub.Kill();  // no shutdown code runs: only what was committed before its answer is there
  }
  EmulatorProcess hub({}, dir);
  CHECK(Body(hub.Get("/statistics/devices"))["totalDeviceCount"] == kClients * kPerClient + 1);
  CHECK(hub.Get("/devices/contested")->status == 200);
  CHECK(hub.Get("/devices/doomed")->status == 404);
  int same = 0;
  for (const auto& [id, etag] : etags) {
    auto res = hub.Get("/devices/" + id);
    if (res && res->status == 200 && Body(res)["etag"] == etag) ++same;
  }
  CHECK(same == kClients * kPerClient);
}

}  // namespace iothub::testing
