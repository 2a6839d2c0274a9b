#include "integration/emulator_process.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/sas_token.h"

namespace iothub::testing {
namespace {

std::atomic<int> g_counter{0};

pid_t Spawn(const std::vector<std::string>& args, const std::string& log_path) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // no emulator outlives a test binary that died
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(EMULATOR_BINARY));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(EMULATOR_BINARY, argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string LogPath() {
  auto dir = std::filesystem::path(TEST_DATA_DIR) / "logs";
  std::filesystem::create_directories(dir);
  return (dir / ("emulator-" + std::to_string(::getpid()) + "-" + std::to_string(g_counter++) + ".log")).string();
}

}  // namespace

std::optional<int> WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void CheckNoSanitizerFindings(const std::string& what, int status, const std::string& output) {
  size_t found = std::string::npos;
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
    found = std::min(found, output.find(marker));
  }
  if (found == std::string::npos && status != kSanitizerExitCode) return;
  FAIL_CHECK(what << " reported a sanitizer finding (exit status " << status << "):\n"
                      << (found == std::string::npos ? output : output.substr(found)));
}

size_t RssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6));
  }
  return 0;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string FreshDataDir(const std::string& name) {
  auto dir = std::filesystem::path(TEST_DATA_DIR) / "runs" / (name + "-" + std::to_string(::getpid()) + "-" +
                                                             std::to_string(g_counter++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string TestCaPath() { return std::string(TEST_DATA_DIR) + "/certs/ca.pem"; }

EmulatorProcess::EmulatorProcess(std::vector<std::string> extra_args, std::optional<std::string> data_dir) {
  // Free ports, unless extra_args names them (a restart on the same ports).
  bool ports_given = false;
  auto given = [&](const char* flag) -> std::optional<int> {
    for (size_t i = 0; i + 1 < extra_args.size(); ++i) {
      if (extra_args[i] == flag) {
        int port = std::stoi(extra_args[i + 1]);
        extra_args.erase(extra_args.begin() + i, extra_args.begin() + i + 2);
        ports_given = true;
        return port;
      }
    }
    return std::nullopt;
  };
  const auto fixed_https = given("--https-port");
  const auto fixed_mqtt = given("--mqtt-port");
  const auto fixed_amqp = given("--amqp-port");

  // A port found free can be taken by a test running in parallel before the
  // emulator binds it: then start again on other ports.
  for (int attempt = 0;; ++attempt) {
    https_port_ = fixed_https.value_or(FreePort());
    mqtt_port_ = fixed_mqtt.value_or(FreePort());
    mqtt_plain_port_ = FreePort();
    amqp_port_ = fixed_amqp.value_or(FreePort());
    amqp_plain_port_ = FreePort();
    std::vector<std::string> args = {"--https-port", std::to_string(https_port_), "--https-bind", "127.0.0.1",
                                     "--mqtt-port", std::to_string(mqtt_port_), "--mqtt-bind", "127.0.0.1",
                                     "--mqtt-plain-port", std::to_string(mqtt_plain_port_),
                                     "--amqp-port", std::to_string(amqp_port_), "--amqp-bind", "127.0.0.1",
                                     "--amqp-plain-port", std::to_string(amqp_plain_port_),
                                     "--tls-cert", std::string(TEST_DATA_DIR) + "/certs/server.pem",
                                     "--tls-key", std::string(TEST_DATA_DIR) + "/certs/server.key"};
    if (data_dir) {
      args.insert(args.end(), {"--data-dir", *data_dir});
    } else {
      args.push_back("--in-memory");
    }
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    log_path_ = LogPath();
    pid_ = Spawn(args, log_path_);

    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    bool port_taken = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto exited = WaitExit(pid_, std::chrono::milliseconds(0))) {
        pid_ = -1;
        port_taken = Log().find("already in use") != std::string::npos;
        if (port_taken && !ports_given && attempt < 5) break;
        FAIL("the emulator exited with " << *exited << " while starting:\n" << Log());
      }
      auto cli = Client();
      cli->set_connection_timeout(std::chrono::milliseconds(200));
      if (auto res = cli->Get("/health"); res && res->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!port_taken) FAIL("the emulator did not become healthy:\n" << Log());
  }
}

EmulatorProcess::~EmulatorProcess() {
  if (pid_ > 0) Stop();
}

int EmulatorProcess::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto status = WaitExit(pid_, std::chrono::seconds(10));
  if (!status) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_ = -1;
  const int exit_status = status.value_or(-1);
  CheckNoSanitizerFindings("the emulator", exit_status, Log());
  CHECK_MESSAGE(exit_status == 0, "the emulator did not stop cleanly on SIGTERM (exit status " << exit_status
                                      << ", -1: killed after 10 s):\n" << Log());
  return exit_status;
}

int EmulatorProcess::Kill() {
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

std::string EmulatorProcess::Log() const { return ReadFile(log_path_); }

std::unique_ptr<httplib::SSLClient> EmulatorProcess::Client() const {
  auto cli = std::make_unique<httplib::SSLClient>("localhost", https_port_);
  cli->set_ca_cert_path(TestCaPath().c_str());
  cli->enable_server_certificate_verification(true);
  cli->set_read_timeout(std::chrono::seconds(10));
  return cli;
}

std::string EmulatorProcess::PolicyToken(const std::string& policy, const std::string& key, const std::string& sr,
                                         int64_t valid_seconds) {
  int64_t expiry = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count() + valid_seconds;
  return "SharedAccessSignature sr=" + sr + "&sig=" + *SignSas(sr, expiry, key) + "&skn=" + policy +
         "&se=" + std::to_string(expiry);
}

httplib::Headers EmulatorProcess::WithAuth(httplib::Headers headers) const {
  if (headers.find("Authorization") == headers.end()) headers.emplace("Authorization", PolicyToken());
  return headers;
}

httplib::Result EmulatorProcess::Get(const std::string& path, httplib::Headers headers) const {
  return Client()->Get(path, WithAuth(std::move(headers)));
}

httplib::Result EmulatorProcess::Put(const std::string& path, const std::string& body, httplib::Headers headers) const {
  return Client()->Put(path, WithAuth(std::move(headers)), body, "application/json; charset=utf-8");
}

httplib::Result EmulatorProcess::Post(const std::string& path, const std::string& body,
                                      httplib::Headers headers) const {
  return Client()->Post(path, WithAuth(std::move(headers)), body, "application/json; charset=utf-8");
}

httplib::Result EmulatorProcess::Delete(const std::string& path, httplib::Headers headers) const {
  return Client()->Delete(path, WithAuth(std::move(headers)));
}

std::pair<int, std::string> RunEmulatorToExit(std::vector<std::string> args, int timeout_seconds) {
  // Never the default AMQP ports: tests run in parallel, and a developer's machine may run a broker there.
  if (std::find(args.begin(), args.end(), "--amqp-port") == args.end()) {
    args.insert(args.end(), {"--amqp-port", std::to_string(FreePort()), "--amqp-plain-port", "0"});
  }
  std::string log = LogPath();
  pid_t pid = Spawn(args, log);
  auto status = WaitExit(pid, std::chrono::seconds(timeout_seconds));
  if (!status) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  std::string output = ReadFile(log);
  CheckNoSanitizerFindings("the emulator", status.value_or(-1), output);
  return {status.value_or(-1), output};
}

void CreateTestDevice(const EmulatorProcess& hub, const std::string& id) {
  nlohmann::json body = {
      {"authentication", {{"symmetricKey", {{"primaryKey", kTestDeviceKey}, {"secondaryKey", kTestDeviceKey}}}}}};
  auto res = hub.Put("/devices/" + id, body.dump());
  REQUIRE(res);
  REQUIRE(res->status == 200);
}

std::pair<int, std::string> RunCommand(const std::string& command, std::chrono::seconds timeout) {
  int out[2];
  // Close-on-exec: a command started meanwhile by another thread must not keep this pipe open.
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: on timeout, whatever it started goes too
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::close(out[0]);
    ::close(out[1]);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string output;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline is checked above
    char buf[4096];
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // everything it started has closed its output
    output.append(buf, static_cast<size_t>(n));
  }
  ::close(out[0]);
  std::optional<int> status;
  if (!timed_out) status = WaitExit(pid, std::chrono::seconds(5));
  if (!status) {
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    output += "\n[RunCommand: still running after " + std::to_string(timeout.count()) + " s, killed: " + command + "]\n";
    CheckNoSanitizerFindings(command, -1, output);
    return {-1, output};
  }
  CheckNoSanitizerFindings(command, *status, output);
  return {*status, output};
}

std::string ErrorCodeOf(const httplib::Result& res) {
  if (!res) return "";
  auto body = nlohmann::json::parse(res->body, nullptr, false);
  if (!body.is_object() || !body.contains("Message") || !body["Message"].is_string()) return "";
  std::string message = body["Message"];
  if (!message.starts_with("ErrorCode:")) return "";
  return message.substr(10, message.find(';') - 10);
}

}  // namespace iothub::testing
