#include "transport/tcp_stream.h"

#include <asio/write.hpp>

namespace iothub::transport {
namespace {

std::string PeerOf(const asio::ip::tcp::socket& socket) {
  asio::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  return ec ? "unknown peer" : endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

}  // namespace

TcpStream::TcpStream(asio::ip::tcp::socket socket)
    : socket_(std::move(socket)), peer_(PeerOf(socket_)) {
  asio::error_code ignored;
  // Devices send small packets and wait for their acknowledgements: no Nagle delay.
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket_.non_blocking(true, ignored);
}

ByteStream::Io TcpStream::Read(char* data, size_t size, size_t* read) {
  asio::error_code ec;
  *read = socket_.read_some(asio::buffer(data, size), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) return Io::kWantRead;
  if (ec == asio::error::eof) return Io::kClosed;
  if (ec) {
    error_ = ec.message();
    return Io::kFailed;
  }
  return Io::kDone;
}

ByteStream::Io TcpStream::Write(const char* data, size_t size, size_t* written) {
  asio::error_code ec;
  *written = socket_.write_some(asio::buffer(data, size), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) return Io::kWantWrite;
  if (ec) {
    error_ = ec.message();
    return Io::kFailed;
  }
  return Io::kDone;
}

void TcpStream::Wait(Io want, WaitHandler then) {
  auto type = want == Io::kWantWrite ? asio::socket_base::wait_write : asio::socket_base::wait_read;
  socket_.async_wait(type, std::move(then));
}

void TcpStream::Close() {
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace iothub::transport
