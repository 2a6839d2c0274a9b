// What the load tools share: starting and stopping processes (the emulator,
// mosquitto), free ports, the keys and tokens of the devices they create, and
// process memory. Figures only: nothing here asserts.
#pragma once

#include <openssl/ssl.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
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
  int amqp_port = 0;        // the Event Hub-compatible endpoint over TLS
  int amqp_plain_port = 0;  // and plain (UseDevelopmentEmulator=true)
  fs::path dir;

  Emulator(const std::string& binary, const fs::path& data_dir, bool in_memory);
  ~Emulator();
  // Creates prefix0 .. prefix{count-1} with kDeviceKey (bulk REST).
  void CreateDevices(const std::string& prefix, int count);
  std::string ca() const { return (dir / "certs/ca.pem").string(); }
};

// A stock mosquitto with `listeners` (config lines: listener, protocol, TLS files),
// anonymous, nothing persisted, TCP_NODELAY; waits until `port` accepts. Its log is
// dir/mosquitto-{port}.log.
pid_t StartMosquitto(const std::string& binary, const fs::path& dir, const std::string& listeners, int port);

// A client TLS context that verifies the server as "localhost" against `ca` and
// frees its record buffers while a connection is idle. Owned by the caller.
struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using ClientTlsContext = std::unique_ptr<SSL_CTX, SslCtxFree>;
ClientTlsContext NewClientTlsContext(const std::string& ca);

// Opens a blocking TCP connection to 127.0.0.1:port (TCP_NODELAY, 10 s send and
// receive timeouts); -1 when refused.
int ConnectLoopback(int port);

// One blocking TLS client connection to 127.0.0.1, closed when destroyed. For the
// idle-connection figures: MQTT directly over TLS, or inside a WebSocket.
class TlsClient {
 public:
  TlsClient() = default;
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // TCP connection and TLS handshake; false (and why in error()) when either fails.
  bool Connect(SSL_CTX* ctx, int port);
  bool WriteAll(std::string_view bytes);
  bool ReadExactly(char* data, size_t size);
  // An HTTP response's status line and header fields, up to and without the empty line.
  bool ReadHead(std::string* head);
  // Still open: no close or reset from the server is waiting (does not read data).
  bool Open() const;
  const std::string& error() const { return error_; }

 private:
  bool Fail(const std::string& why);
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string error_;
};

// An MQTT 3.1.1 CONNECT, clean session; no user name when `user` is empty.
std::string MqttConnectPacket(const std::string& client_id, const std::string& user, const std::string& password,
                              int keep_alive_seconds);
// Sends CONNECT and waits for an accepting CONNACK, over an open TLS connection.
bool MqttSignIn(TlsClient& tls, const std::string& connect_packet);
// The same inside a WebSocket: upgrades on `path` (sub-protocol mqtt, waits for the
// 101), then sends CONNECT in one masked binary frame and waits for the CONNACK frame.
bool MqttSignInOverWebSocket(TlsClient& tls, const std::string& path, const std::string& connect_packet);

}  // namespace bench
