#include "integration/mqtt_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <stdexcept>

#include "core/sas_token.h"
#include "integration/emulator_process.h"
#include "mqtt/codec/mqtt_codec.h"

namespace iothub::testing {
namespace {

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string DeviceToken(const std::string& device_id, const std::string& key, int64_t valid_seconds,
                        const std::string& host) {
  return CreateSasToken(host + "/devices/" + device_id, key, Now() + valid_seconds);
}

std::string PolicyDeviceToken(const std::string& device_id, const std::string& policy, const std::string& key,
                              int64_t valid_seconds) {
  return CreateSasToken("localhost/devices/" + device_id, key, Now() + valid_seconds, policy);
}

MqttTestClient::MqttTestClient(int port, bool tls) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);  // the destructor does not run for a constructor that throws
    throw std::runtime_error("cannot connect to port " + std::to_string(port));
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Bounds the blocking calls (the TLS handshake, a write the server does not read): a hub that
  // stops answering fails the test instead of hanging it. Reads wait in poll() with their own timeout.
  timeval bound{10, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
  if (!tls) return;
  ctx_ = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx_, TestCaPath().c_str(), nullptr);
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_set_tlsext_host_name(ssl_, "localhost");
  SSL_set1_host(ssl_, "localhost");
  if (SSL_connect(ssl_) != 1) {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    ::close(fd_);
    throw std::runtime_error("TLS handshake with the emulator failed");
  }
}

MqttTestClient::~MqttTestClient() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

void MqttTestClient::SendRaw(const std::string& bytes) {
  if (ssl_) {
    SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
  } else {
    ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
}

void MqttTestClient::Send(const mqtt::Packet& packet) { SendRaw(mqtt::Encode(packet)); }

void MqttTestClient::Abort() {
  linger hard{1, 0};  // RST, no FIN: as a device that lost power
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  ::close(fd_);
  fd_ = -1;
  closed_ = true;
}

void MqttTestClient::SendAndClose(const std::string& bytes) {
  int on = 1, off = 0;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &on, sizeof on);  // hold the segments back...
  SendRaw(bytes);
  if (ssl_) SSL_shutdown(ssl_);
  ::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &off, sizeof off);  // ...and let them go together
  ::shutdown(fd_, SHUT_WR);
}

bool MqttTestClient::ReadMore(std::chrono::milliseconds timeout) {
  if (closed_) return false;
  if (!ssl_ || SSL_pending(ssl_) == 0) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  }
  char buf[16384];
  int n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : static_cast<int>(::recv(fd_, buf, sizeof buf, 0));
  if (n <= 0) {
    closed_ = true;
    return false;
  }
  rx_.append(buf, n);
  return true;
}

std::optional<mqtt::Packet> MqttTestClient::Receive(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto result = mqtt::Decode(rx_, 1 << 22);
    if (auto* decoded = std::get_if<mqtt::Decoded>(&result)) {
      rx_.erase(0, decoded->consumed);
      return std::move(decoded->packet);
    }
    if (std::holds_alternative<mqtt::Malformed>(result)) throw std::runtime_error("the emulator sent a malformed packet");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !ReadMore(left)) return std::nullopt;
  }
}

bool MqttTestClient::WaitClosed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!closed_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    ReadMore(left);
    rx_.clear();
  }
  return true;
}

std::optional<mqtt::Connack> MqttTestClient::Connect(const std::string& device_id, const std::string& token,
                                                     uint16_t keep_alive, bool clean_session,
                                                     std::optional<mqtt::Will> will, const std::string& host) {
  mqtt::Connect c;
  c.client_id = device_id;
  c.username = host + "/" + device_id + "/?api-version=2021-04-12";
  c.password = token;
  c.keep_alive_seconds = keep_alive;
  c.clean_session = clean_session;
  c.will = std::move(will);
  Send(c);
  auto reply = Receive();
  if (!reply || !std::holds_alternative<mqtt::Connack>(*reply)) return std::nullopt;
  return std::get<mqtt::Connack>(*reply);
}

}  // namespace iothub::testing
