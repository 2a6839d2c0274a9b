#include "bench_support.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "core/sas_token.h"

namespace bench {

using namespace std::chrono_literals;

const std::string kOwnerKey = "7r3KxkLA5oZr/fN2IcckoG1ybGiApgGjvQKk5btv0Zc=";
const std::string kDeviceKey = "YmVuY2htYXJrLWRldmljZS1rZXktMzItYnl0ZXMhISE=";

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
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

bool PortOpen(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::fopen(log.c_str(), "w");
    ::dup2(fileno(f), 1);
    ::dup2(fileno(f), 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

void StopProcess(pid_t pid) {
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

long ProcKib(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field) + 1));
  }
  return 0;
}

double ProcCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void RaiseFileLimit() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * values.size()))];
}

std::string ServiceToken() {
  const int64_t expiry = UnixNow() + 3600;
  return "SharedAccessSignature sr=localhost&sig=" + *iothub::SignSas("localhost", expiry, kOwnerKey) +
         "&skn=iothubowner&se=" + std::to_string(expiry);
}

std::pair<std::string, std::string> DeviceCredentials(const std::string& device_id) {
  return {"localhost/" + device_id + "/?api-version=2021-04-12",
          iothub::CreateSasToken("localhost/devices/" + device_id, kDeviceKey, UnixNow() + 3600)};
}

Emulator::Emulator(const std::string& binary, const fs::path& data_dir, bool in_memory) : dir(data_dir) {
  https_port = FreePort();
  mqtt_port = FreePort();
  std::vector<std::string> args = {binary, "--data-dir", dir.string(), "--https-port", std::to_string(https_port),
                                   "--https-bind", "127.0.0.1", "--mqtt-port", std::to_string(mqtt_port),
                                   "--mqtt-bind", "127.0.0.1", "--log-level", "warn"};
  if (in_memory) {
    args.insert(args.end(), {"--in-memory", "--tls-cert", (dir / "certs/server.pem").string(), "--tls-key",
                             (dir / "certs/server.key").string()});
  }
  pid = Spawn(args, (dir / (in_memory ? "emulator-idle.log" : "emulator.log")).string());
  for (int i = 0; i < 200 && !PortOpen(mqtt_port); ++i) std::this_thread::sleep_for(25ms);
  if (!PortOpen(mqtt_port)) throw std::runtime_error("the emulator did not start; see " + dir.string());
}

Emulator::~Emulator() { StopProcess(pid); }

void Emulator::CreateDevices(const std::string& prefix, int count) {
  httplib::SSLClient cli("localhost", https_port);
  cli.set_ca_cert_path(ca().c_str());
  cli.enable_server_certificate_verification(true);
  const std::string token = ServiceToken();
  for (int start = 0; start < count; start += 100) {
    nlohmann::json batch = nlohmann::json::array();
    for (int i = start; i < std::min(count, start + 100); ++i) {
      batch.push_back({{"id", prefix + std::to_string(i)},
                       {"importMode", "create"},
                       {"authentication", {{"symmetricKey", {{"primaryKey", kDeviceKey}, {"secondaryKey", kDeviceKey}}}}}});
    }
    auto res = cli.Post("/devices", {{"Authorization", token}}, batch.dump(), "application/json");
    if (!res || res->status != 200) throw std::runtime_error("creating devices failed");
  }
}

}  // namespace bench
