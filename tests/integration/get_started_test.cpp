// Azure's get-started flow, offline, with the bundled tools only: create a device
// identity, run the simulated device, watch its events arrive (issue: get-started flow).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "integration/emulator_process.h"
#include "integration/wait_until.h"

namespace iothub::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;


std::string Cli(const EmulatorProcess& hub, const std::string& key = kOwnerKey) {
  return "IOTHUB_CONNECTION_STRING='HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=" + key +
         "' IOTHUB_EMULATOR_AMQP_PORT=" + std::to_string(hub.amqp_port()) + " " IOTHUB_CLI " --ca " + TestCaPath() +
         " --https-port " + std::to_string(hub.https_port()) + " ";
}

std::string Field(const std::string& output, const std::string& name) {
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + ":", 0) == 0) {
      std::string value = line.substr(name.size() + 1);
      return value.substr(value.find_first_not_of(' '));
    }
  }
  return "";
}

}  // namespace

TEST_CASE("Get started: create a device, simulate it, and the monitor shows exactly its messages in order") {
  EmulatorProcess hub;
  auto [created, create_output] = RunCommand(Cli(hub) + "device create myFirstNodeDevice");
  CAPTURE(create_output);
  REQUIRE(created == 0);
  CHECK(Field(create_output, "deviceId") == "myFirstNodeDevice");
  CHECK(Field(create_output, "primaryKey").size() == 44);
  CHECK(Field(create_output, "secondaryKey").size() == 44);
  CHECK(Field(create_output, "connectionState") == "Disconnected");
  CHECK(Field(create_output, "status") == "enabled");
  CHECK(Field(create_output, "lastActivityTime") == "0001-01-01T00:00:00Z");
  CHECK(Field(create_output, "cloudToDeviceMessageCount") == "0");
  CHECK(Field(create_output, "authMethod") == "sas");
  const std::string key = Field(create_output, "primaryKey");

  // The monitor runs alongside, as in the tutorial; from the start of the log so none is missed.
  const std::string monitor_file = FreshDataDir("monitor") + "/out.jsonl";
  std::jthread monitor([&] {
    RunCommand(Cli(hub) + "monitor myFirstNodeDevice --from earliest --json -n 5 -t 30 > " + monitor_file);
  });
  const std::string device = "HostName=localhost:" + std::to_string(hub.mqtt_port()) +
                             ";DeviceId=myFirstNodeDevice;SharedAccessKey=" + key;
  auto [simulated, simulate_output] =
      RunCommand(Cli(hub) + "simulate --count 5 --interval 0.1 --device-connection-string '" + device + "'");
  CAPTURE(simulate_output);
  CHECK(simulated == 0);
  for (int n = 1; n <= 5; ++n) {
    CHECK(simulate_output.find("Message acknowledged: myFirstNodeDevice-" + std::to_string(n)) != std::string::npos);
  }
  CHECK(simulate_output.find("5 messages acknowledged") != std::string::npos);
  monitor.join();

  std::ifstream in(monitor_file);
  std::vector<json> events;
  for (std::string line; std::getline(in, line);) events.push_back(json::parse(line));
  REQUIRE(events.size() == 5);
  for (int n = 1; n <= 5; ++n) {
    const json& e = events[n - 1];
    CHECK(e["properties"]["messageId"] == "myFirstNodeDevice-" + std::to_string(n));
    CHECK(e["properties"]["correlationId"] == "simulate-" + std::to_string(n));
    CHECK(e["body"]["deviceId"] == "myFirstNodeDevice");
    CHECK(e["body"]["windSpeed"].get<double>() >= 10.0);
    CHECK(e["applicationProperties"].contains("temperatureAlert"));
    CHECK(e["annotations"]["iothub-connection-device-id"] == "myFirstNodeDevice");
  }

  auto [shown, show_output] = RunCommand(Cli(hub) + "device show myFirstNodeDevice");
  CHECK(shown == 0);
  CHECK(Field(show_output, "lastActivityTime") != "0001-01-01T00:00:00Z");
  auto [listed, list_output] = RunCommand(Cli(hub) + "device list");
  CHECK(list_output.find("myFirstNodeDevice\tenabled") != std::string::npos);
  auto [printed, cs_output] = RunCommand(Cli(hub) + "device connection-string myFirstNodeDevice");
  CHECK(cs_output == "HostName=localhost;DeviceId=myFirstNodeDevice;SharedAccessKey=" + key + "\n");
  CHECK(RunCommand(Cli(hub) + "device delete myFirstNodeDevice").first == 0);
}

TEST_CASE("Get started: iothub monitor --amqp reads the simulated device's messages from the Event Hub-compatible "
          "endpoint, over TLS and plain AMQP") {
  EmulatorProcess hub;
  CreateTestDevice(hub, "amqpDevice");
  const std::string device = "HostName=localhost:" + std::to_string(hub.mqtt_port()) +
                             ";DeviceId=amqpDevice;SharedAccessKey=" + kTestDeviceKey;
  auto [simulated, simulate_output] =
      RunCommand(Cli(hub) + "simulate --count 3 --interval 0.05 --device-connection-string '" + device + "'");
  CAPTURE(simulate_output);
  REQUIRE(simulated == 0);

  // Signs in with SASL PLAIN, follows IoT Hub's redirect from messages/events, asks $management for the partitions.
  for (const std::string transport : {"--amqp-port " + std::to_string(hub.amqp_port()),
                                      "--amqp-plain --amqp-port " + std::to_string(hub.amqp_plain_port())}) {
    CAPTURE(transport);
    auto [read, output] = RunCommand(Cli(hub) + "monitor amqpDevice --amqp " + transport +
                                     " --from earliest --json -n 3 -t 20");
    CAPTURE(output);
    REQUIRE(read == 0);
    std::istringstream in(output);
    std::vector<json> events;
    for (std::string line; std::getline(in, line);) events.push_back(json::parse(line));
    REQUIRE(events.size() == 3);
    for (int n = 1; n <= 3; ++n) {
      const json& e = events[n - 1];
      CHECK(e["properties"]["messageId"] == "amqpDevice-" + std::to_string(n));
      CHECK(e["sequenceNumber"] == n - 1);
      CHECK(e["body"]["deviceId"] == "amqpDevice");
      CHECK(e["annotations"]["iothub-connection-device-id"] == "amqpDevice");
      CHECK(e["annotations"]["iothub-message-source"] == "Telemetry");
      CHECK(e["applicationProperties"].contains("temperatureAlert"));
    }
  }
  // A wrong key and a policy without ServiceConnect are refused: exit code 3.
  auto [wrong, wrong_output] = RunCommand(Cli(hub, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=") + "monitor --amqp --amqp-port " +
                                          std::to_string(hub.amqp_port()) + " -t 10");
  CAPTURE(wrong_output);
  CHECK(wrong == 3);
}

TEST_CASE("Get started: the CLI's errors are clear and its exit codes tell them apart") {
  EmulatorProcess hub;
  auto [missing, missing_output] = RunCommand(Cli(hub) + "device show nobody");
  CHECK(missing == 4);
  CHECK(missing_output.find("DeviceNotFound") != std::string::npos);
  auto [forbidden, forbidden_output] = RunCommand(Cli(hub, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=") + "device list");
  CHECK(forbidden == 3);
  CHECK(forbidden_output.find("IotHubUnauthorizedAccess") != std::string::npos);
  auto [unreachable, unreachable_output] = RunCommand(IOTHUB_CLI " --ca " + TestCaPath() + " --https-port " +
                                               std::to_string(FreePort()) +
                                               " --login 'HostName=localhost;SharedAccessKeyName=a;SharedAccessKey=YWFhYQ==' device list");
  CHECK(unreachable == 2);
  CHECK(unreachable_output.find("cannot reach") != std::string::npos);
  auto [usage, usage_output] = RunCommand("env -u IOTHUB_CONNECTION_STRING " IOTHUB_CLI " device list");
  CHECK(usage == 1);
  CHECK(usage_output.find("IOTHUB_CONNECTION_STRING") != std::string::npos);
  CHECK(RunCommand(Cli(hub) + "device create dup").first == 0);
  CHECK(RunCommand(Cli(hub) + "device create dup").first == 5);
}

TEST_CASE("Seed file: declared devices exist with their keys at start, and again after a restart") {
  const std::string dir = FreshDataDir("seed");
  const std::string seed = dir + "/devices.json";
  const std::string key = "c2VlZHNlZWRzZWVkc2VlZHNlZWRzZWVkc2VlZHNlZWQ=";
  std::ofstream(seed) << R"([{"deviceId": "seeded-1", "authentication": {"symmetricKey": {"primaryKey": ")" << key
                      << R"(", "secondaryKey": ")" << key << R"("}}},
                            {"deviceId": "seeded-2", "status": "disabled"}])";
  for (int start = 0; start < 2; ++start) {
    CAPTURE(start);
    EmulatorProcess hub({"--seed", seed}, dir);
    json one = json::parse(hub.Get("/devices/seeded-1")->body);
    CHECK(one["authentication"]["symmetricKey"]["primaryKey"] == key);
    CHECK(json::parse(hub.Get("/devices/seeded-2")->body)["status"] == "disabled");
    CHECK(json::parse(hub.Get("/statistics/devices")->body)["totalDeviceCount"] == 2);
    hub.Stop();
  }
  {
    EmulatorProcess documented({"--seed", SOURCE_DIR "/docker/seed.example.json"});  // the file the README shows
    CHECK(documented.Get("/devices/sensor-1")->status == 200);
    CHECK(documented.Get("/devices/sensor-2")->status == 200);
  }
  std::ofstream(seed) << R"([{"deviceId": "bad id!"}])";
  auto [status, output] = RunEmulatorToExit({"--in-memory", "--seed", seed, "--https-port", std::to_string(FreePort()),
                                             "--mqtt-port", std::to_string(FreePort())});
  CHECK(status == 2);
  CHECK(output.find("bad id!") != std::string::npos);
}

}  // namespace iothub::testing

namespace iothub::testing {

TEST_CASE("Get started: from the CLI, invoke the simulator's method, watch its reported property, send it messages and desired changes") {
  EmulatorProcess hub;
  auto [created, create_output] = RunCommand(Cli(hub) + "device create sim");
  REQUIRE(created == 0);
  const std::string device = "HostName=localhost:" + std::to_string(hub.mqtt_port()) +
                             ";DeviceId=sim;SharedAccessKey=" + Field(create_output, "primaryKey");
  const std::string sim_log = FreshDataDir("sim") + "/out.txt";
  auto sim_output = [&] {
    std::ifstream in(sim_log);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  // Enough messages at 1 s that it is still running while the calls below are made on a busy machine;
  // the method then speeds it up, so the test does not wait for them all.
  std::jthread simulator([&] {
    RunCommand(Cli(hub) + "simulate --count 15 --interval 1 --device-connection-string '" + device + "' > " + sim_log);
  });
  // The simulator reports its pace right after subscribing, on the same connection, and the hub handles
  // a connection's packets in order: once the twin shows the pace, it listens for methods, C2D and desired changes.
  CHECK(WaitUntil([&] {
    auto twin = hub.Get("/twins/sim");
    if (!twin || twin->status != 200) return false;
    json reported = json::parse(twin->body)["properties"]["reported"];
    return reported.contains("telemetryInterval") && reported["telemetryInterval"] == 1;
  }, 20s));

  CHECK(RunCommand(Cli(hub) + "c2d send sim 'hello device' --message-id c2d-1 --property k=v").first == 0);
  CHECK(RunCommand(Cli(hub) + "twin update sim --desired '{\"mode\":\"eco\"}' --tags '{\"room\":\"lab\"}'").first == 0);
  CHECK(WaitUntil([&] {
    const std::string log = sim_output();
    return log.find("Received message c2d-1: hello device") != std::string::npos &&
           log.find("Desired properties changed: {\"$version\":2,\"mode\":\"eco\"}") != std::string::npos;
  }));
  auto [invoked, invoke_output] = RunCommand(Cli(hub) + "method invoke sim setInterval --payload 0.2");
  CAPTURE(invoke_output);
  CHECK(invoked == 0);
  CHECK(json::parse(invoke_output) == json{{"status", 200}, {"payload", {{"interval", 0.2}}}});
  auto [refused, refused_output] = RunCommand(Cli(hub) + "method invoke sim setInterval --payload -1");
  CHECK(json::parse(refused_output)["status"] == 400);
  simulator.join();
  // It has exited; the hub notices its connection is gone on its own time.
  CHECK(WaitUntil([&] {
    auto res = hub.Get("/devices/sim");
    return res && res->status == 200 && json::parse(res->body)["connectionState"] == "Disconnected";
  }));

  auto [shown, twin_output] = RunCommand(Cli(hub) + "twin show sim");
  REQUIRE(shown == 0);
  json twin = json::parse(twin_output);
  CHECK(twin["properties"]["reported"]["telemetryInterval"] == 0.2);
  CHECK(twin["tags"]["room"] == "lab");
  const std::string log = sim_output();
  CAPTURE(log);
  CHECK(log.find("Method setInterval: now every 0.2 s") != std::string::npos);
  CHECK(log.find("15 messages acknowledged") != std::string::npos);

  CHECK(RunCommand(Cli(hub) + "c2d send sim queued").first == 0);
  auto [purged, purge_output] = RunCommand(Cli(hub) + "c2d purge sim");
  CHECK(purge_output == "Purged 1 messages\n");
  auto [offline, offline_output] = RunCommand(Cli(hub) + "method invoke sim setInterval --payload 1 --timeout 5");
  CHECK(offline == 4);
  CHECK(offline_output.find("DeviceNotOnline") != std::string::npos);
}

}  // namespace iothub::testing
