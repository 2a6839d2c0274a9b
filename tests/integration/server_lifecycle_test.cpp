// Starting, stopping and restarting the real binary.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

#include "integration/emulator_process.h"

namespace iothub::testing {

TEST_CASE("Lifecycle: /health answers without credentials") {
  EmulatorProcess hub;
  auto res = hub.Client()->Get("/health");
  REQUIRE(res);
  CHECK(res->status == 200);
}

TEST_CASE("Lifecycle: the registry survives a restart, and SIGTERM stops the server cleanly") {
  const std::string dir = FreshDataDir("restart");
  nlohmann::json before;
  {
    EmulatorProcess hub({}, dir);
    REQUIRE(hub.Put("/devices/keeper", R"({"statusReason":"persist me"})")->status == 200);
    before = nlohmann::json::parse(hub.Get("/devices/keeper")->body);
    CHECK(hub.Stop() == 0);
    CHECK(hub.Log().find("Stopped") != std::string::npos);
  }
  EmulatorProcess hub({}, dir);
  auto after = hub.Get("/devices/keeper");
  REQUIRE(after);
  REQUIRE(after->status == 200);
  CHECK(nlohmann::json::parse(after->body) == before);
}

TEST_CASE("Lifecycle: a database from a newer emulator is refused, not touched") {
  const std::string dir = FreshDataDir("newer");
  {
    EmulatorProcess hub({}, dir);
    hub.Stop();
  }
  const std::string db_path = dir + "/iothub.db";
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  sqlite3_exec(db, "PRAGMA user_version = 999", nullptr, nullptr, nullptr);
  sqlite3_close(db);

  auto [status, output] = RunEmulatorToExit({"--data-dir", dir, "--https-port", std::to_string(FreePort())});
  CHECK(status == 1);
  CHECK(output.find("schema version 999") != std::string::npos);
}

TEST_CASE("Lifecycle: a port in use is named, with the reason and the fix") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string port = std::to_string(ntohs(addr.sin_port));

  auto [status, output] = RunEmulatorToExit({"--in-memory", "--https-bind", "127.0.0.1", "--https-port", port});
  ::close(fd);
  CHECK(status == 1);
  CHECK(output.find("127.0.0.1:" + port + " is already in use") != std::string::npos);
  CHECK(output.find("--https-port") != std::string::npos);
}

TEST_CASE("Lifecycle: first start makes a CA and server certificate in the data directory, later starts reuse them") {
  const std::string dir = FreshDataDir("certs");
  auto [status, output] = RunEmulatorToExit({"--data-dir", dir, "--generate-certs"});
  REQUIRE(status == 0);
  CHECK(output.find(dir + "/certs/ca.pem") != std::string::npos);
  auto ca_time = std::filesystem::last_write_time(dir + "/certs/ca.pem");
  RunEmulatorToExit({"--data-dir", dir, "--generate-certs"});
  CHECK(std::filesystem::last_write_time(dir + "/certs/ca.pem") == ca_time);
}

TEST_CASE("Lifecycle: --help documents flags and their environment variables") {
  auto [status, output] = RunEmulatorToExit({"--help"});
  CHECK(status == 0);
  for (const char* text : {"--hub-name", "--data-dir", "--in-memory", "--https-port", "--https-bind", "--log-level",
                           "--tls-cert", "--config", "IOTHUB_EMULATOR_HTTPS_PORT", "--iothubowner-key"}) {
    CAPTURE(text);
    CHECK(output.find(text) != std::string::npos);
  }
}

}  // namespace iothub::testing
