// What the load tools share: starting and stopping processes (the emulator,
// mosquitto), free ports, the keys and tokens of the devices they create, and
// process memory. Figures only: nothing here asserts.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace bench {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The hub owner policy's key and the one key every bench device gets.
extern const std::string kOwnerKey;
extern const std::string kDeviceKey;

int64_t UnixNow();
int FreePort();
bool PortOpen(int port);
// Starts a program with stdout and stderr to `log`.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log);
void StopProcess(pid_t pid);
// VmRSS or VmHWM of a process, in KiB.
long ProcKib(pid_t pid, const char* field);
// CPU time (user + system) a process has used so far, in seconds (10 ms steps).
double ProcCpuSeconds(pid_t pid);
void RaiseFileLimit();
double Percentile(std::vector<double> values, double p);

// Authorization header value for the hub owner policy, valid for an hour.
std::string ServiceToken();
// MQTT user name and password (SAS token) of a bench device.
std::pair<std::string, std::string> DeviceCredentials(const std::string& device_id);

// iothub-emulator on free loopback ports, with its data in `dir` (certificates in dir/certs).
struct Emulator {
  pid_t pid = -1;
  int https_port = 0;
  int mqtt_port = 0;
  fs::path dir;

  Emulator(const std::string& binary, const fs::path& data_dir, bool in_memory);
  ~Emulator();
  // Creates prefix0 .. prefix{count-1} with kDeviceKey (bulk REST).
  void CreateDevices(const std::string& prefix, int count);
  std::string ca() const { return (dir / "certs/ca.pem").string(); }
};

}  // namespace bench
