// Consumer groups of the Event Hub-compatible endpoint, managed through the emulator's
// REST API (/emulator/consumerGroups) and `iothub consumer-group`, against the real binary.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "integration/emulator_process.h"
#include "integration/wait_until.h"

namespace iothub::testing {
namespace {

using nlohmann::json;

constexpr const char* kServiceKey = "kif8csu1RvNjpgNgk7Wx+OVv6S1Jw2wQ2/7O8s3lxUo=";
constexpr const char* kRegistryReadWriteKey = "9l2AAH9GSx29Ecpw5xA34nb928rIY4gAtS7g5lHH6qg=";
constexpr const char* kGroups = "/emulator/consumerGroups";

std::vector<std::pair<std::string, std::string>> Listed(const EmulatorProcess& hub) {
  auto res = hub.Get(kGroups);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  std::vector<std::pair<std::string, std::string>> out;
  for (const json& g : json::parse(res->body)) out.emplace_back(g.at("name"), g.at("source"));
  return out;
}

using Groups = std::vector<std::pair<std::string, std::string>>;

std::string Cli(const EmulatorProcess& hub) {
  return "IOTHUB_CONNECTION_STRING='HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=" +
         std::string(kOwnerKey) + "' " IOTHUB_CLI " --ca " + TestCaPath() + " --https-port " +
         std::to_string(hub.https_port()) + " ";
}

}  // namespace

TEST_CASE("Consumer groups, REST: create, list and delete, with IoT Hub's error form for each refusal") {
  EmulatorProcess hub({"--consumer-group", "configured"});
  CHECK(Listed(hub) == Groups{{"$Default", "builtin"}, {"configured", "config"}});

  auto created = hub.Put(std::string(kGroups) + "/Ops.Team", "");
  REQUIRE(created);
  CHECK(created->status == 200);
  CHECK(json::parse(created->body) == json{{"name", "Ops.Team"}, {"source", "api"}});
  CHECK(Listed(hub) == Groups{{"$Default", "builtin"}, {"configured", "config"}, {"Ops.Team", "api"}});

  struct Refusal {
    const char* what;
    bool put;  // else DELETE
    std::string name;
    int status;
    const char* code;
  };
  const Refusal refusals[] = {
      {"create an existing group, in another case", true, "ops.team", 409, "DeviceAlreadyExists"},
      {"create $Default", true, "$Default", 409, "DeviceAlreadyExists"},
      {"create a configured group", true, "Configured", 409, "DeviceAlreadyExists"},
      {"create a name with a space", true, "two%20words", 400, "ArgumentInvalid"},
      {"create another $ name", true, "$Other", 400, "ArgumentInvalid"},
      {"create a name ending in '-'", true, "ops-", 400, "ArgumentInvalid"},
      {"create a 51-character name", true, std::string(51, 'g'), 400, "ArgumentInvalid"},
      {"delete $Default", false, "$Default", 400, "ArgumentInvalid"},
      {"delete a configured group", false, "configured", 400, "ArgumentInvalid"},
      {"delete an unknown group", false, "nobody", 404, "ResourceNotFound"},
  };
  for (const Refusal& r : refusals) {
    CAPTURE(r.what);
    const std::string path = std::string(kGroups) + "/" + r.name;
    auto res = r.put ? hub.Put(path, "") : hub.Delete(path);
    REQUIRE(res);
    CHECK(res->status == r.status);
    CHECK(ErrorCodeOf(res) == r.code);
    CHECK(res->get_header_value("iothub-errorcode") == r.code);
  }
  CHECK(Listed(hub) == Groups{{"$Default", "builtin"}, {"configured", "config"}, {"Ops.Team", "api"}});

  auto deleted = hub.Delete(std::string(kGroups) + "/OPS.TEAM");
  REQUIRE(deleted);
  CHECK(deleted->status == 204);
  CHECK(Listed(hub) == Groups{{"$Default", "builtin"}, {"configured", "config"}});
  CHECK(hub.Delete(std::string(kGroups) + "/Ops.Team")->status == 404);
}

TEST_CASE("Consumer groups, REST: service may list, only the owner may create or delete") {
  EmulatorProcess hub;
  const std::string service = EmulatorProcess::PolicyToken("service", kServiceKey);
  const std::string registry = EmulatorProcess::PolicyToken("registryReadWrite", kRegistryReadWriteKey);
  CHECK(hub.Get(kGroups, {{"Authorization", service}})->status == 200);
  CHECK(hub.Get(kGroups, {{"Authorization", registry}})->status == 401);
  for (const std::string& token : {service, registry}) {
    auto put = hub.Put(std::string(kGroups) + "/not-made", "", {{"Authorization", token}});
    REQUIRE(put);
    CHECK(put->status == 401);
    CHECK(ErrorCodeOf(put) == "IotHubUnauthorizedAccess");
  }
  auto cli = hub.Client();
  CHECK(cli->Get(kGroups)->status == 401);  // no Authorization header
  CHECK(Listed(hub) == Groups{{"$Default", "builtin"}});

  REQUIRE(hub.Put(std::string(kGroups) + "/kept", "")->status == 200);
  CHECK(hub.Delete(std::string(kGroups) + "/kept", {{"Authorization", service}})->status == 401);
  CHECK(hub.Delete(std::string(kGroups) + "/kept", {{"Authorization", registry}})->status == 401);
  CHECK(Listed(hub) == Groups{{"$Default", "builtin"}, {"kept", "api"}});
}

TEST_CASE("Consumer groups: a created group survives a restart on disk, configured ones exist while configured") {
  const std::string dir = FreshDataDir("consumer-groups");
  {
    EmulatorProcess hub({"--consumer-group", "from-flag,Both"}, dir);
    REQUIRE(hub.Put(std::string(kGroups) + "/made-by-api", "")->status == 200);
    REQUIRE(hub.Put(std::string(kGroups) + "/Gone", "")->status == 200);
    REQUIRE(hub.Delete(std::string(kGroups) + "/gone")->status == 204);
    CHECK(hub.Put(std::string(kGroups) + "/both", "")->status == 409);
    // The banner lists the groups there are at start.
    CHECK(WaitUntil([&] { return hub.Log().find("consumer groups $Default, from-flag, Both):") != std::string::npos; }));
    hub.Stop();
  }
  {
    EmulatorProcess hub({}, dir);
    CHECK(Listed(hub) == Groups{{"$Default", "builtin"}, {"made-by-api", "api"}});
    CHECK(WaitUntil([&] { return hub.Log().find("consumer groups $Default, made-by-api):") != std::string::npos; }));
    hub.Stop();
  }
  {
    // Configured and stored: one group, configured, which the API cannot delete.
    EmulatorProcess hub({"--consumer-group", "MADE-BY-API"}, dir);
    CHECK(Listed(hub) == Groups{{"$Default", "builtin"}, {"MADE-BY-API", "config"}});
    CHECK(hub.Delete(std::string(kGroups) + "/made-by-api")->status == 400);
    hub.Stop();
  }
  {
    EmulatorProcess hub({}, dir);
    CHECK(Listed(hub) == Groups{{"$Default", "builtin"}, {"made-by-api", "api"}});
  }
  auto [status, output] = RunEmulatorToExit({"--in-memory", "--https-port", std::to_string(FreePort()), "--mqtt-port",
                                             std::to_string(FreePort()), "--consumer-group", "ok,not ok"});
  CHECK(status != 0);
  CHECK(output.find("not ok") != std::string::npos);
  CHECK(output.find("may contain only letters, digits") != std::string::npos);
}

TEST_CASE("Consumer groups, CLI: iothub consumer-group create, list and delete, with clear failures") {
  EmulatorProcess hub({"--consumer-group", "configured"});
  auto [created, create_output] = RunCommand(Cli(hub) + "consumer-group create telemetry-archive");
  CHECK(created == 0);
  CHECK(create_output.find("Created consumer group telemetry-archive") != std::string::npos);
  CHECK(Listed(hub) == Groups{{"$Default", "builtin"}, {"configured", "config"}, {"telemetry-archive", "api"}});

  auto [listed, list_output] = RunCommand(Cli(hub) + "consumer-group list");
  CHECK(listed == 0);
  CHECK(list_output == "$Default\tbuiltin\nconfigured\tconfig\ntelemetry-archive\tapi\n");
  auto [listed_json, json_output] = RunCommand(Cli(hub) + "consumer-group list --json");
  CHECK(listed_json == 0);
  CHECK(json::parse(json_output).size() == 3);

  auto [again, again_output] = RunCommand(Cli(hub) + "consumer-group create Telemetry-Archive");
  CHECK(again == 5);
  CHECK(again_output.find("already exists") != std::string::npos);
  auto [bad, bad_output] = RunCommand(Cli(hub) + "consumer-group create 'bad name'");
  CHECK(bad == 5);
  CHECK(bad_output.find("ArgumentInvalid") != std::string::npos);
  auto [builtin, builtin_output] = RunCommand(Cli(hub) + "consumer-group delete '$Default'");
  CHECK(builtin == 5);
  CHECK(builtin_output.find("cannot be deleted") != std::string::npos);

  auto [deleted, delete_output] = RunCommand(Cli(hub) + "consumer-group delete telemetry-archive");
  CHECK(deleted == 0);
  CHECK(delete_output.find("Deleted consumer group telemetry-archive") != std::string::npos);
  CHECK(Listed(hub) == Groups{{"$Default", "builtin"}, {"configured", "config"}});
  auto [missing, missing_output] = RunCommand(Cli(hub) + "consumer-group delete telemetry-archive");
  CHECK(missing == 4);
  CHECK(missing_output.find("does not exist") != std::string::npos);
}

}  // namespace iothub::testing
