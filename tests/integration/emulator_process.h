// Starts the real iothub-emulator binary on free loopback ports for one test,
// and talks HTTPS to it with the development CA verified, as a client would.
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace iothub::testing {

// The owner policy's documented default key (README, "Development credentials").
inline constexpr const char* kOwnerKey = "7r3KxkLA5oZr/fN2IcckoG1ybGiApgGjvQKk5btv0Zc=";

// The keys of devices made by CreateTestDevice (32 x 'a', base64).
inline constexpr const char* kTestDeviceKey = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=";

// The exit status of a sanitizer finding in the sanitizer build (tests/sanitizer_options.cpp).
inline constexpr int kSanitizerExitCode = 86;

// Fails the running test (CHECK, never throws) when a child's exit status or output shows a finding of
// AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer; `what` names the child in the message.
void CheckNoSanitizerFindings(const std::string& what, int status, const std::string& output);

// The resident memory of a process, from /proc (0 when it is gone).
size_t RssKiB(pid_t pid);
// A port nobody listens on right now.
int FreePort();
// A fresh empty directory under the build tree's test-data.
std::string FreshDataDir(const std::string& name);
// The CA and server certificate made by the ctest fixture.
std::string TestCaPath();

class EmulatorProcess {
 public:
  // Starts the emulator with --in-memory (unless data_dir is given), the test
  // certificates and a free HTTPS port, plus extra_args; waits for /health.
  explicit EmulatorProcess(std::vector<std::string> extra_args = {}, std::optional<std::string> data_dir = {});
  // Stops the emulator as Stop() does, if it still runs.
  ~EmulatorProcess();

  // SIGTERM and wait (SIGKILL after 10 s); returns the exit status, -1 when it had to be killed. Fails the test
  // when the emulator does not exit with 0 or its log holds a sanitizer finding: a shutdown is also where leaks
  // are found.
  int Stop();
  pid_t pid() const { return pid_; }
  // SIGKILL, as a crash or `kill -9`: no shutdown code runs. Waits for the
  // process to go; returns its status (128 + 9).
  int Kill();
  int https_port() const { return https_port_; }
  int mqtt_port() const { return mqtt_port_; }        // MQTT over TLS
  int mqtt_plain_port() const { return mqtt_plain_port_; }
  int amqp_port() const { return amqp_port_; }  // AMQP over TLS
  int amqp_plain_port() const { return amqp_plain_port_; }
  std::string Log() const;

  // A client that verifies the server against the development CA.
  std::unique_ptr<httplib::SSLClient> Client() const;
  // "SharedAccessSignature ..." for a policy, as the service SDK makes it (sr = host).
  static std::string PolicyToken(const std::string& policy = "iothubowner", const std::string& key = kOwnerKey,
                                 const std::string& sr = "localhost", int64_t valid_seconds = 3600);
  // Request helpers with the owner's token unless headers say otherwise.
  httplib::Result Get(const std::string& path, httplib::Headers headers = {}) const;
  httplib::Result Put(const std::string& path, const std::string& body, httplib::Headers headers = {}) const;
  httplib::Result Post(const std::string& path, const std::string& body, httplib::Headers headers = {}) const;
  httplib::Result Delete(const std::string& path, httplib::Headers headers = {}) const;

 private:
  httplib::Headers WithAuth(httplib::Headers headers) const;

  pid_t pid_ = -1;
  int https_port_ = 0;
  int mqtt_port_ = 0;
  int mqtt_plain_port_ = 0;
  int amqp_port_ = 0;
  int amqp_plain_port_ = 0;
  std::string log_path_;
};

// Registers a SAS device whose primary and secondary keys are kTestDeviceKey.
void CreateTestDevice(const EmulatorProcess& hub, const std::string& id);

// Runs the binary to completion with args; returns exit status and output.
// Free AMQP ports are added unless args name --amqp-port.
std::pair<int, std::string> RunEmulatorToExit(std::vector<std::string> args, int timeout_seconds = 10);

// Waits up to timeout for the child pid to exit: its exit status (128 + signal
// when killed), or nullopt while it still runs.
std::optional<int> WaitExit(pid_t pid, std::chrono::milliseconds timeout);

// Runs a shell command; its exit status and its stdout and stderr together.
// A command still running after timeout is killed with everything it started,
// and the status is -1, so that a hung tool fails its test instead of hanging it.
std::pair<int, std::string> RunCommand(const std::string& command,
                                       std::chrono::seconds timeout = std::chrono::seconds(60));

// The parsed legacy error body's "ErrorCode:<Name>" name, or "" when the body is not one.
std::string ErrorCodeOf(const httplib::Result& res);

}  // namespace iothub::testing
