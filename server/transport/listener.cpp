#include "transport/listener.h"

#include <asio/strand.hpp>

#include "transport/tcp_stream.h"
#include "transport/tls_stream.h"

namespace iothub::transport {

Listener::Listener(asio::io_context& io, const TlsServerContext* tls, PendingConnections& pending,
                   SessionFactory factory)
    : io_(io), tls_(tls), pending_(pending), factory_(std::move(factory)), acceptor_(io) {}

std::optional<std::string> Listener::Bind(const std::string& address, int port, std::string_view port_flag) {
  asio::error_code ec;
  auto ip = asio::ip::make_address(address, ec);
  if (ec) return "'" + address + "' is not an IP address";
  asio::ip::tcp::endpoint endpoint(ip, static_cast<uint16_t>(port));
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::string why = ec.message();
    if (ec == asio::error::access_denied) why += " (ports below 1024 need privileges)";
    return address + ":" + std::to_string(port) + ": " + why + "; choose another port with " + std::string(port_flag);
  }
  return std::nullopt;
}

void Listener::Start() { Accept(); }

void Listener::Accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (auto slot = pending_.TryTake()) {
        std::unique_ptr<ByteStream> stream;
        if (tls_) {
          stream = std::make_unique<TlsStream>(std::move(socket), tls_->get());
        } else {
          stream = std::make_unique<TcpStream>(std::move(socket));
        }
        factory_(std::move(stream), std::move(*slot));
      } else {
        asio::error_code ignored;
        socket.close(ignored);  // strangers may not pile up
      }
    }
    Accept();
  });
}

void Listener::Close() {
  asio::error_code ignored;
  acceptor_.close(ignored);
}

int Listener::port() const {
  asio::error_code ec;
  return acceptor_.is_open() ? acceptor_.local_endpoint(ec).port() : 0;
}

}  // namespace iothub::transport
