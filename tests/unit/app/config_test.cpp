#include "app/config.h"

#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace iothub::app {
namespace {

Config Load(std::vector<const char*> args) {
  args.insert(args.begin(), "iothub-emulator");
  auto result = LoadConfig(static_cast<int>(args.size()), args.data());
  REQUIRE(std::holds_alternative<Config>(result));
  return std::get<Config>(result);
}

}  // namespace

TEST_CASE("Config: defaults are the real hub's ports and ./data") {
  Config c = Load({});
  CHECK(c.https_port == 443);
  CHECK_FALSE(c.https_port_explicit);
  CHECK(c.data_dir == "./data");
  CHECK(c.AdvertisedHostName() == "localhost");
  auto names = c.AcceptedHostNames();
  CHECK(std::find(names.begin(), names.end(), "emulator.azure-devices.net") != names.end());
}

TEST_CASE("Config: command line beats environment beats config file") {
  auto file = std::filesystem::temp_directory_path() / ("iothub-config-" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << R"({"hub-name": "from-file", "https-port": 1111, "log-level": "debug",
                            "host-name": ["a.example", "b.example"], "in-memory": true})";
  ::setenv("IOTHUB_EMULATOR_HTTPS_PORT", "2222", 1);
  ::setenv("IOTHUB_EMULATOR_HUB_NAME", "from-env", 1);

  Config c = Load({"--config", file.c_str(), "--hub-name", "from-flag"});
  CHECK(c.hub_name == "from-flag");
  CHECK(c.https_port == 2222);
  CHECK(c.https_port_explicit);
  CHECK(c.log_level == "debug");
  CHECK(c.in_memory);
  CHECK(c.host_names == std::vector<std::string>{"a.example", "b.example"});
  CHECK(c.AdvertisedHostName() == "a.example");

  ::unsetenv("IOTHUB_EMULATOR_HTTPS_PORT");
  ::unsetenv("IOTHUB_EMULATOR_HUB_NAME");
  CHECK(Load({"--config", file.c_str()}).https_port == 1111);
  std::filesystem::remove(file);
}

TEST_CASE("Config: policy keys can be overridden by flag") {
  Config c = Load({"--iothubowner-key", "abc=", "--registry-read-write-key", "def="});
  CHECK(c.policy_keys.at("iothubowner") == "abc=");
  CHECK(c.policy_keys.at("registryReadWrite") == "def=");
}

TEST_CASE("Config: bad settings are refused with a non-zero exit") {
  std::vector<std::vector<const char*>> bad = {
      {"iothub-emulator", "--https-port", "70000"},
      {"iothub-emulator", "--log-level", "loud"},
      {"iothub-emulator", "--no-such-flag"},
      {"iothub-emulator", "--tls-cert", "/etc/hostname"},  // without --tls-key
  };
  for (auto& args : bad) {
    CAPTURE(args[1]);
    auto result = LoadConfig(static_cast<int>(args.size()), args.data());
    REQUIRE(std::holds_alternative<int>(result));
    CHECK(std::get<int>(result) != 0);
  }
}

}  // namespace iothub::app

namespace iothub::app {

TEST_CASE("Config: consumer groups come from repeated or comma-separated flags, the environment and the config file") {
  CHECK(Load({"--consumer-group", "ops,analytics", "--consumer-group", "audit"}).consumer_groups ==
        std::vector<std::string>{"ops", "analytics", "audit"});

  ::setenv("IOTHUB_EMULATOR_CONSUMER_GROUP", "from-env,second", 1);
  CHECK(Load({}).consumer_groups == std::vector<std::string>{"from-env", "second"});
  ::unsetenv("IOTHUB_EMULATOR_CONSUMER_GROUP");

  auto file = std::filesystem::temp_directory_path() / ("iothub-groups-" + std::to_string(::getpid()) + ".json");
  std::ofstream(file) << R"({"consumer-group": ["from-file", "Other.Group"]})";
  CHECK(Load({"--config", file.c_str()}).consumer_groups == std::vector<std::string>{"from-file", "Other.Group"});

  // A name Event Hubs would refuse is refused at start, from any source.
  std::ofstream(file) << R"({"consumer-group": ["ok", "-bad"]})";
  for (std::vector<const char*> args : {std::vector<const char*>{"iothub-emulator", "--consumer-group", "no spaces"},
                                        std::vector<const char*>{"iothub-emulator", "--consumer-group", "ok,$bad"},
                                        std::vector<const char*>{"iothub-emulator", "--config", file.c_str()}}) {
    CAPTURE(args.back());
    auto result = LoadConfig(static_cast<int>(args.size()), args.data());
    REQUIRE(std::holds_alternative<int>(result));
    CHECK(std::get<int>(result) != 0);
  }
  std::filesystem::remove(file);
}

}  // namespace iothub::app
