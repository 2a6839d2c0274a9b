// The socket type of our RESTinio traits: a TCP socket whose bytes go through
// the device endpoints' byte streams (transport::TlsStream, TcpStream), so the
// HTTPS port does TLS as 8883 does: OpenSSL on the socket with no buffers of its
// own (~21 KiB per idle TLS connection, against ~78 KiB with asio::ssl::stream).
// After a WebSocket upgrade, TakeStream() hands the connection's stream to the
// protocol that serves it.
//
// No RESTinio in this header: the members RESTinio calls are thin templates
// that type-erase the completion handler and call ChannelSocketCore
// (channel_socket.cpp). RESTinio's customisation points are in restinio_channel_socket.h.
#pragma once

#include <openssl/ssl.h>

#include <asio/associated_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <system_error>

#include "transport/byte_stream.h"

namespace iothub::transport {
class TcpStream;
}

namespace iothub::http {

// The state behind a ChannelSocket, on the heap so that pending waits keep a
// stable pointer while RESTinio moves the socket (acceptor -> connection).
class ChannelSocketCore {
 public:
  // Completes an operation; it posts to the handler's own executor (ChannelSocket::Bind),
  // so it may be called inside the initiating call.
  using Done = std::function<void(const std::error_code&, std::size_t)>;

  // ctx: null for plain TCP. The socket gets a strand of its own: its waits, and a
  // protocol adopting it after an upgrade, are serialised on it.
  ChannelSocketCore(asio::io_context& io, SSL_CTX* ctx, std::chrono::steady_clock::duration handshake_timeout);
  ~ChannelSocketCore();

  asio::ip::tcp::socket& socket();

  // Opens the stream over the accepted socket and runs the TLS handshake, bounded by
  // the handshake timeout (RESTinio arms no timer before its first read).
  void Handshake(std::function<void(const std::error_code&)> done);
  void ReadSome(asio::mutable_buffer buffer, Done done);
  void WriteSome(asio::const_buffer buffer, std::shared_ptr<char[]> owned, Done done);
  // Both end the stream, once: close_notify (best effort, without waiting), then the socket is closed.
  void Shutdown(asio::socket_base::shutdown_type what, std::error_code& ec);
  void Close();
  // The connection's stream, for a protocol to serve from now on; the socket is then closed to RESTinio.
  std::unique_ptr<transport::ByteStream> TakeStream();

 private:
  void DoRead(asio::mutable_buffer buffer, Done done);
  void DoWrite(asio::const_buffer buffer, std::shared_ptr<char[]> owned, Done done);
  void DoHandshake(std::function<void(const std::error_code&)> done);

  asio::ip::tcp::socket socket_;  // accepted into; moved into stream_ by Handshake
  SSL_CTX* ctx_;
  std::chrono::steady_clock::duration handshake_timeout_;
  std::unique_ptr<transport::TcpStream> stream_;  // from Handshake on (TlsStream when ctx_)
  std::unique_ptr<asio::steady_timer> handshake_timer_;  // only while handshaking
  bool handshake_timed_out_ = false;
  bool closed_ = false;

  friend class ChannelSocket;  // Closed()
};

class ChannelSocket {
 public:
  using executor_type = asio::ip::tcp::socket::executor_type;  // == restinio::default_asio_executor
  using lowest_layer_type = asio::ip::tcp::socket;

  ChannelSocket(asio::io_context& io, SSL_CTX* ctx, std::chrono::steady_clock::duration handshake_timeout)
      : core_(std::make_unique<ChannelSocketCore>(io, ctx, handshake_timeout)) {}
  ChannelSocket(ChannelSocket&&) noexcept = default;
  ChannelSocket& operator=(ChannelSocket&&) noexcept = default;

  // --- what RESTinio 0.6.16 calls ---
  asio::ip::tcp::socket& lowest_layer() { return core().socket(); }
  const asio::ip::tcp::socket& lowest_layer() const { return core().socket(); }
  executor_type get_executor() { return core().socket().get_executor(); }
  asio::ip::tcp::endpoint remote_endpoint() const { return core().socket().remote_endpoint(); }
  bool is_open() const { return core().socket().is_open(); }
  void cancel(std::error_code& ec) { core().socket().cancel(ec); }  // pending waits end with operation_aborted
  void shutdown(asio::socket_base::shutdown_type what, std::error_code& ec) { core().Shutdown(what, ec); }
  void close() { core().Close(); }
  void close(std::error_code&) { core().Close(); }

  template <typename MutableBuffers, typename Handler>
  void async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    asio::mutable_buffer first = *asio::buffer_sequence_begin(buffers);  // RESTinio passes one buffer
    core().ReadSome(first, Bind(std::forward<Handler>(handler)));
  }

  // asio::async_write(socket, bufs, h) loops on this. Several buffers (header and
  // body, a write group) are gathered into one copy of up to 16 KiB so that they
  // go out as one TLS record, not one record per buffer.
  template <typename ConstBuffers, typename Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    auto it = asio::buffer_sequence_begin(buffers);
    auto end = asio::buffer_sequence_end(buffers);
    asio::const_buffer first = *it;
    const std::size_t total = asio::buffer_size(buffers);
    std::shared_ptr<char[]> owned;
    if (first.size() < total && first.size() < kGather) {
      const std::size_t n = total < kGather ? total : kGather;
      owned.reset(new char[n]);
      std::size_t at = 0;
      for (; it != end && at < n; ++it) {
        asio::const_buffer b = *it;
        const std::size_t take = b.size() < n - at ? b.size() : n - at;
        std::memcpy(owned.get() + at, b.data(), take);
        at += take;
      }
      first = asio::const_buffer(owned.get(), n);
    }
    core().WriteSome(first, std::move(owned), Bind(std::forward<Handler>(handler)));
  }

  template <typename Handler>
  void async_handshake(Handler&& handler) {
    core().Handshake(std::function<void(const std::error_code&)>(std::forward<Handler>(handler)));
  }

  // A moved-from socket (RESTinio moves one out of a connection it then destroys)
  // behaves as a closed one.
  ChannelSocketCore& core() const { return core_ ? *core_ : Closed(); }

 private:
  static ChannelSocketCore& Closed();

  static constexpr std::size_t kGather = 16 * 1024;

  // The handler runs where it asks to (RESTinio binds its handlers to the
  // connection's strand); our waits complete on the socket's own strand.
  template <typename Handler>
  ChannelSocketCore::Done Bind(Handler&& handler) {
    auto executor = asio::get_associated_executor(handler, get_executor());
    return [executor, handler = std::forward<Handler>(handler)](const std::error_code& ec, std::size_t n) mutable {
      asio::post(executor, [handler = std::move(handler), ec, n]() mutable { handler(ec, n); });
    };
  }

  std::unique_ptr<ChannelSocketCore> core_;
};

}  // namespace iothub::http
