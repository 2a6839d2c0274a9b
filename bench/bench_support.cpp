#include "bench_support.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
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
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a bench that dies (a signal, an uncaught error) takes its servers along
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
  // AMQP on free ports too: a real 5671/5672 (another emulator, a broker) must not stop the bench.
  do amqp_port = FreePort(); while (amqp_port == https_port || amqp_port == mqtt_port);
  do amqp_plain_port = FreePort(); while (amqp_plain_port == https_port || amqp_plain_port == mqtt_port ||
                                          amqp_plain_port == amqp_port);
  std::vector<std::string> args = {binary, "--data-dir", dir.string(), "--https-port", std::to_string(https_port),
                                   "--https-bind", "127.0.0.1", "--mqtt-port", std::to_string(mqtt_port),
                                   "--mqtt-bind", "127.0.0.1", "--amqp-port", std::to_string(amqp_port),
                                   "--amqp-plain-port", std::to_string(amqp_plain_port), "--amqp-bind", "127.0.0.1",
                                   "--log-level", "warn"};
  if (in_memory) {
    args.insert(args.end(), {"--in-memory", "--tls-cert", (dir / "certs/server.pem").string(), "--tls-key",
                             (dir / "certs/server.key").string()});
  }
  pid = Spawn(args, (dir / (in_memory ? "emulator-idle.log" : "emulator.log")).string());
  // MQTT listens before HTTPS does: wait for every listener.
  auto listening = [this] {
    return PortOpen(mqtt_port) && PortOpen(https_port) && PortOpen(amqp_port) && PortOpen(amqp_plain_port);
  };
  for (int i = 0; i < 200 && !listening(); ++i) std::this_thread::sleep_for(25ms);
  if (!listening()) {
    StopProcess(pid);
    throw std::runtime_error("the emulator did not start; see " + dir.string());
  }
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

pid_t StartMosquitto(const std::string& binary, const fs::path& dir, const std::string& listeners, int port) {
  const std::string name = "mosquitto-" + std::to_string(port);
  const fs::path conf = dir / (name + ".conf");
  std::ofstream(conf) << "allow_anonymous true\npersistence false\nmax_queued_messages 1000000\n"
                      << "set_tcp_nodelay true\n"  // as the emulator does; otherwise replies wait on delayed ACKs
                      // As root mosquitto would switch to its own user, which cannot read our 0600 key.
                      << (::geteuid() == 0 ? "user root\n" : "") << listeners;
  pid_t pid = Spawn({binary, "-c", conf.string()}, (dir / (name + ".log")).string());
  for (int i = 0; i < 200 && !PortOpen(port); ++i) std::this_thread::sleep_for(25ms);
  if (!PortOpen(port)) throw std::runtime_error("mosquitto did not start; see " + (dir / (name + ".log")).string());
  return pid;
}

ClientTlsContext NewClientTlsContext(const std::string& ca) {
  ClientTlsContext ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || SSL_CTX_load_verify_locations(ctx.get(), ca.c_str(), nullptr) != 1) {
    throw std::runtime_error("cannot load the CA " + ca);
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_AUTO_RETRY);
  return ctx;
}

int ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval timeout{10, 0};  // a blocking read or write that waits this long has failed
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  return fd;
}

TlsClient::~TlsClient() {
  if (ssl_) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
}

bool TlsClient::Fail(const std::string& why) {
  char detail[256] = "";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, detail, sizeof detail);
  ERR_clear_error();
  error_ = why + (detail[0] ? std::string(": ") + detail : std::string()) + (errno ? std::string(" / ") + std::strerror(errno) : std::string());
  return false;
}

bool TlsClient::Connect(SSL_CTX* ctx, int port) {
  errno = 0;
  fd_ = ConnectLoopback(port);
  if (fd_ < 0) return Fail("TCP connect");
  ssl_ = SSL_new(ctx);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, "localhost");
  SSL_set1_host(ssl_, "localhost");
  if (SSL_connect(ssl_) != 1) return Fail("TLS handshake");
  return true;
}

bool TlsClient::WriteAll(std::string_view bytes) {
  while (!bytes.empty()) {
    size_t written = 0;
    if (SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written) != 1) return Fail("TLS write");
    bytes.remove_prefix(written);
  }
  return true;
}

bool TlsClient::ReadExactly(char* data, size_t size) {
  while (size > 0) {
    size_t read = 0;
    if (SSL_read_ex(ssl_, data, size, &read) != 1) return Fail("TLS read");
    data += read;
    size -= read;
  }
  return true;
}

bool TlsClient::ReadHead(std::string* head) {
  head->clear();
  // A byte at a time: what follows the head belongs to the next protocol.
  char c;
  while (head->size() < 16384) {
    if (!ReadExactly(&c, 1)) return false;
    head->push_back(c);
    if (head->size() >= 4 && head->compare(head->size() - 4, 4, "\r\n\r\n") == 0) {
      head->resize(head->size() - 4);
      return true;
    }
  }
  return Fail("HTTP head over 16 KiB");
}

bool TlsClient::Open() const {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return true;  // nothing waiting: open and idle
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return false;
  char c;
  return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;  // data (a TLS record), not the close
}

namespace {

void PutString(std::string& out, const std::string& s) {
  out.push_back(static_cast<char>(s.size() >> 8));
  out.push_back(static_cast<char>(s.size() & 0xff));
  out += s;
}

bool IsAcceptingConnack(const char* packet) {
  return packet[0] == 0x20 && packet[1] == 0x02 && packet[3] == 0x00;
}

}  // namespace

std::string MqttConnectPacket(const std::string& client_id, const std::string& user, const std::string& password,
                              int keep_alive_seconds) {
  std::string body;
  PutString(body, "MQTT");
  body.push_back(4);  // 3.1.1
  body.push_back(static_cast<char>(0x02 | (user.empty() ? 0 : 0xc0)));  // clean session, user name + password
  body.push_back(static_cast<char>(keep_alive_seconds >> 8));
  body.push_back(static_cast<char>(keep_alive_seconds & 0xff));
  PutString(body, client_id);
  if (!user.empty()) {
    PutString(body, user);
    PutString(body, password);
  }
  std::string packet(1, '\x10');
  for (size_t length = body.size();;) {  // remaining length, 7 bits a byte
    char byte = static_cast<char>(length & 0x7f);
    length >>= 7;
    packet.push_back(static_cast<char>(byte | (length ? 0x80 : 0)));
    if (!length) break;
  }
  return packet + body;
}

bool MqttSignIn(TlsClient& tls, const std::string& connect_packet) {
  char connack[4];
  return tls.WriteAll(connect_packet) && tls.ReadExactly(connack, 4) && IsAcceptingConnack(connack);
}

bool MqttSignInOverWebSocket(TlsClient& tls, const std::string& path, const std::string& connect_packet) {
  const std::string upgrade = "GET " + path +
                              " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Protocol: mqtt\r\n\r\n";
  std::string head;
  if (!tls.WriteAll(upgrade) || !tls.ReadHead(&head)) return false;
  if (head.rfind("HTTP/1.1 101", 0) != 0) return false;

  // One binary frame (FIN), masked as a client must (RFC 6455 §5.3).
  std::string frame = "\x82";
  const size_t n = connect_packet.size();
  if (n < 126) {
    frame.push_back(static_cast<char>(0x80 | n));
  } else {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(n >> 8));
    frame.push_back(static_cast<char>(n & 0xff));
  }
  const char mask[4] = {0x1b, 0x2c, 0x3d, 0x4e};
  frame.append(mask, 4);
  for (size_t i = 0; i < n; ++i) frame.push_back(static_cast<char>(connect_packet[i] ^ mask[i % 4]));
  if (!tls.WriteAll(frame)) return false;

  // The CONNACK's 4 bytes, in however many binary frames the server used.
  std::string payload;
  while (payload.size() < 4) {
    unsigned char header[2];
    if (!tls.ReadExactly(reinterpret_cast<char*>(header), 2)) return false;
    if ((header[0] & 0x0f) != 0x2 && (header[0] & 0x0f) != 0x0) return false;  // not binary or continuation
    uint64_t length = header[1] & 0x7f;
    if (header[1] & 0x80) return false;  // a server never masks
    if (length >= 126) {
      unsigned char extended[8];
      const size_t bytes = length == 126 ? 2 : 8;
      if (!tls.ReadExactly(reinterpret_cast<char*>(extended), bytes)) return false;
      length = 0;
      for (size_t i = 0; i < bytes; ++i) length = length << 8 | extended[i];
    }
    if (length > 64) return false;
    std::string part(length, '\0');
    if (!tls.ReadExactly(part.data(), length)) return false;
    payload += part;
  }
  return payload.size() == 4 && IsAcceptingConnack(payload.data());
}

}  // namespace bench
