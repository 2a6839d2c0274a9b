#include "integration/raw_https_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>

#include "integration/emulator_process.h"

namespace iothub::testing {
namespace {

struct Socket {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ~Socket() { ::close(fd); }
};

}  // namespace

struct RawTlsConnection::State {
  Socket socket;
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx{SSL_CTX_new(TLS_client_method()), SSL_CTX_free};
  std::unique_ptr<SSL, void (*)(SSL*)> ssl{nullptr, SSL_free};
};

RawTlsConnection::RawTlsConnection(int port) : state_(new State) {
  std::unique_ptr<State> guard(state_);
  const int fd = state_->socket.fd;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error("cannot connect to port " + std::to_string(port));
  }
  timeval bound{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
  SSL_CTX_load_verify_locations(state_->ctx.get(), TestCaPath().c_str(), nullptr);
  SSL_CTX_set_verify(state_->ctx.get(), SSL_VERIFY_PEER, nullptr);
  state_->ssl.reset(SSL_new(state_->ctx.get()));
  SSL* ssl = state_->ssl.get();
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_set1_host(ssl, "localhost");
  if (SSL_connect(ssl) != 1) throw std::runtime_error("TLS handshake with the emulator failed");
  guard.release();
}

RawTlsConnection::~RawTlsConnection() {
  state_->ssl.reset();  // before the socket it uses
  delete state_;
}

bool RawTlsConnection::Write(const std::string& bytes) {
  return SSL_write(state_->ssl.get(), bytes.data(), static_cast<int>(bytes.size())) > 0;
}

std::string RawTlsConnection::ReadAll() {
  std::string response;
  char buf[4096];
  int n = 0;
  while ((n = SSL_read(state_->ssl.get(), buf, sizeof buf)) > 0) response.append(buf, n);
  return response;
}

std::string RawHttpsExchange(int port, const std::string& request) {
  RawTlsConnection connection(port);
  if (!connection.Write(request)) throw std::runtime_error("cannot write the request");
  return connection.ReadAll();
}

int StatusOf(const std::string& raw_response) {
  // "HTTP/1.1 400 Bad Request"
  if (!raw_response.starts_with("HTTP/1.") || raw_response.size() < 12) return 0;
  try {
    return std::stoi(raw_response.substr(9, 3));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace iothub::testing
