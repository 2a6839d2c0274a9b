// A ByteStream on a plain TCP socket, made non-blocking. The base of TlsStream,
// which runs TLS on the same socket.
#pragma once

#include <asio/ip/tcp.hpp>

#include "transport/byte_stream.h"

namespace iothub::transport {

class TcpStream : public ByteStream {
 public:
  explicit TcpStream(asio::ip::tcp::socket socket);

  asio::any_io_executor executor() override { return socket_.get_executor(); }
  Io Handshake() override { return Io::kDone; }
  Io Read(char* data, size_t size, size_t* read) override;
  Io Write(const char* data, size_t size, size_t* written) override;
  bool HasBufferedInput() const override { return false; }
  void Wait(Io want, WaitHandler then) override;
  void Close() override;
  const std::string& error() const override { return error_; }
  const char* kind() const override { return "plain TCP"; }
  const std::string& peer() const override { return peer_; }
  // The socket under the stream, for a server library that waits on it (http/channel_socket).
  asio::ip::tcp::socket& socket() { return socket_; }

 protected:
  int native_handle() { return socket_.native_handle(); }

 private:
  std::string error_;
  asio::ip::tcp::socket socket_;
  std::string peer_;
};

}  // namespace iothub::transport
