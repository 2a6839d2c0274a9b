#include "http/channel_socket.h"

#include <asio/strand.hpp>

#include "transport/tls_stream.h"

namespace iothub::http {
namespace {

using Io = transport::ByteStream::Io;

std::error_code Failure() { return std::make_error_code(std::errc::protocol_error); }

}  // namespace

ChannelSocketCore::ChannelSocketCore(asio::io_context& io, SSL_CTX* ctx,
                                     std::chrono::steady_clock::duration handshake_timeout)
    : socket_(asio::make_strand(io)), ctx_(ctx), handshake_timeout_(handshake_timeout) {}

ChannelSocketCore::~ChannelSocketCore() = default;

ChannelSocketCore& ChannelSocket::Closed() {
  static asio::io_context never_run;
  // Closed from the start, so that no thread ever writes to it.
  static ChannelSocketCore& closed = [] () -> ChannelSocketCore& {
    static ChannelSocketCore core(never_run, nullptr, std::chrono::seconds(0));
    core.closed_ = true;
    return core;
  }();
  return closed;
}

asio::ip::tcp::socket& ChannelSocketCore::socket() { return stream_ ? stream_->socket() : socket_; }

void ChannelSocketCore::Handshake(std::function<void(const std::error_code&)> done) {
  if (ctx_) {
    stream_ = std::make_unique<transport::TlsStream>(std::move(socket_), ctx_);
  } else {
    stream_ = std::make_unique<transport::TcpStream>(std::move(socket_));
  }
  if (ctx_ && handshake_timeout_.count() > 0) {
    handshake_timer_ = std::make_unique<asio::steady_timer>(stream_->executor(), handshake_timeout_);
    handshake_timer_->async_wait([this](const std::error_code& ec) {
      if (ec) return;  // cancelled, or the core is gone: touch nothing
      handshake_timed_out_ = true;
      std::error_code ignored;
      stream_->socket().cancel(ignored);
    });
  }
  DoHandshake(std::move(done));
}

void ChannelSocketCore::DoHandshake(std::function<void(const std::error_code&)> done) {
  auto finish = [this](std::function<void(const std::error_code&)>& done, std::error_code ec) {
    if (handshake_timer_) {
      handshake_timer_->cancel();
      handshake_timer_.reset();
    }
    asio::post(stream_->executor(), [done = std::move(done), ec] { done(ec); });
  };
  switch (Io io = stream_->Handshake()) {
    case Io::kDone: finish(done, {}); return;
    case Io::kWantRead:
    case Io::kWantWrite:
      stream_->Wait(io, [this, done = std::move(done), finish](const std::error_code& ec) mutable {
        if (ec) {
          finish(done, handshake_timed_out_ ? asio::error::timed_out : ec);
          return;
        }
        DoHandshake(std::move(done));
      });
      return;
    case Io::kClosed: finish(done, asio::error::eof); return;
    case Io::kFailed: finish(done, Failure()); return;
  }
}

void ChannelSocketCore::ReadSome(asio::mutable_buffer buffer, Done done) {
  if (!stream_) return done(asio::error::bad_descriptor, 0);
  DoRead(buffer, std::move(done));
}

void ChannelSocketCore::DoRead(asio::mutable_buffer buffer, Done done) {
  size_t n = 0;
  const Io io = buffer.size() == 0 ? Io::kDone : stream_->Read(static_cast<char*>(buffer.data()), buffer.size(), &n);
  switch (io) {
    case Io::kDone: done({}, n); return;
    case Io::kWantRead:
    case Io::kWantWrite:  // e.g. a TLS 1.3 KeyUpdate answer that could not go out yet
      stream_->Wait(io, [this, buffer, done = std::move(done)](const std::error_code& ec) mutable {
        if (ec) return done(ec, 0);
        DoRead(buffer, std::move(done));
      });
      return;
    case Io::kClosed: done(asio::error::eof, 0); return;
    case Io::kFailed: done(Failure(), 0); return;
  }
}

void ChannelSocketCore::WriteSome(asio::const_buffer buffer, std::shared_ptr<char[]> owned, Done done) {
  if (!stream_) return done(asio::error::bad_descriptor, 0);
  DoWrite(buffer, std::move(owned), std::move(done));
}

void ChannelSocketCore::DoWrite(asio::const_buffer buffer, std::shared_ptr<char[]> owned, Done done) {
  size_t n = 0;
  const Io io =
      buffer.size() == 0 ? Io::kDone : stream_->Write(static_cast<const char*>(buffer.data()), buffer.size(), &n);
  switch (io) {
    case Io::kDone: done({}, n); return;
    case Io::kWantRead:
    case Io::kWantWrite:
      // Retried with the same bytes, as TLS requires.
      stream_->Wait(io, [this, buffer, owned, done = std::move(done)](const std::error_code& ec) mutable {
        if (ec) return done(ec, 0);
        DoWrite(buffer, std::move(owned), std::move(done));
      });
      return;
    case Io::kClosed: done(asio::error::broken_pipe, 0); return;
    case Io::kFailed: done(Failure(), 0); return;
  }
}

void ChannelSocketCore::Shutdown(asio::socket_base::shutdown_type, std::error_code&) {
  // RESTinio closes with shutdown() then close(): the stream's Close does both (close_notify
  // first), once. A second close on a descriptor number another connection may have reused
  // by now would send that connection our close_notify.
  Close();
}

void ChannelSocketCore::Close() {
  if (closed_) return;
  closed_ = true;
  std::error_code ignored;
  if (stream_) {
    stream_->Close();
  } else {
    socket_.close(ignored);
  }
}

std::unique_ptr<transport::ByteStream> ChannelSocketCore::TakeStream() {
  closed_ = true;  // the stream's new owner closes it
  return std::move(stream_);
}

}  // namespace iothub::http
