// Starting, stopping and restarting the real binary.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "integration/emulator_process.h"
#include "integration/wait_until.h"

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

  auto [status, output] = RunEmulatorToExit({"--data-dir", dir, "--https-port", std::to_string(FreePort()),
                                             "--mqtt-port", std::to_string(FreePort())});
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

  auto [status, output] = RunEmulatorToExit({"--in-memory", "--https-bind", "127.0.0.1", "--https-port", port,
                                             "--mqtt-port", std::to_string(FreePort())});
  ::close(fd);
  CHECK(status == 1);
  CHECK(output.find("127.0.0.1:" + port + " is already in use") != std::string::npos);
  CHECK(output.find("--https-port") != std::string::npos);
}

TEST_CASE("Lifecycle: as a normal user the default port 443 falls back to 8443 with the reason and the fix") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: needs root to start the emulator as another, unprivileged user");
    return;
  }
  // setpriv (util-linux) drops to nobody, as a developer without privileges runs `make run`.
  // Everything in a world-readable temporary directory: the build tree may sit below one nobody cannot enter.
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("iothub-emulator-unprivileged-" + std::to_string(::getpid()))).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::all);
  const std::string binary = dir + "/iothub-emulator";
  std::filesystem::copy_file(EMULATOR_BINARY, binary);
  const std::string mqtt_port = std::to_string(FreePort());
  const std::string amqp_port = std::to_string(FreePort());
  pid_t pid = ::fork();
  const std::string log = dir + "/emulator.log";
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0666);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execlp("setpriv", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary.c_str(),
             "--data-dir", (dir + "/data").c_str(), "--mqtt-port", mqtt_port.c_str(), "--amqp-port",
             amqp_port.c_str(), "--amqp-plain-port", "0", nullptr);
    ::_exit(127);
  }
  const bool healthy = WaitUntil(
      [&] {
        // A new client each time: it reads the CA file once, and the emulator makes it on start.
        httplib::SSLClient client("localhost", 8443);
        client.set_ca_cert_path((dir + "/data/certs/ca.pem").c_str());
        client.enable_server_certificate_verification(true);
        client.set_connection_timeout(std::chrono::seconds(1));
        client.set_read_timeout(std::chrono::seconds(5));
        auto res = client.Get("/health");
        return res && res->status == 200;
      },
      std::chrono::seconds(15), std::chrono::milliseconds(50));
  ::kill(pid, SIGTERM);
  std::optional<int> status = WaitExit(pid, std::chrono::seconds(10));
  if (!status) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  std::ifstream in(log);
  std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CAPTURE(output);
  CheckNoSanitizerFindings("the unprivileged emulator", status.value_or(-1), output);
  CHECK(healthy);
  CHECK(output.find(":443 needs privileges") != std::string::npos);
  CHECK(output.find("setcap cap_net_bind_service=+ep") != std::string::npos);
  CHECK(output.find("Falling back to port 8443") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("Lifecycle: first start makes a CA and server certificate in the data directory, later starts reuse them") {
  const std::string dir = FreshDataDir("certs");
  auto [status, output] = RunEmulatorToExit({"--data-dir", dir, "--generate-certs"});
  REQUIRE(status == 0);
  CHECK(output.find(dir + "/certs/ca.pem") != std::string::npos);
  auto ca_time = std::filesystem::last_write_time(dir + "/certs/ca.pem");
  CHECK(RunEmulatorToExit({"--data-dir", dir, "--generate-certs"}).first == 0);
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
