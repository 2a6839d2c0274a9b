#include "transport/tls_stream.h"

namespace iothub::transport {

TlsStream::TlsStream(asio::ip::tcp::socket socket, SSL_CTX* ctx)
    : TcpStream(std::move(socket)), tls_(ctx, native_handle()) {}

ByteStream::Io TlsStream::Translate(tls::TlsChannel::Io io) {
  switch (io) {
    case tls::TlsChannel::Io::kDone: return Io::kDone;
    case tls::TlsChannel::Io::kWantRead: return Io::kWantRead;
    case tls::TlsChannel::Io::kWantWrite: return Io::kWantWrite;
    case tls::TlsChannel::Io::kClosed: return Io::kClosed;
    case tls::TlsChannel::Io::kFailed: break;
  }
  return Io::kFailed;  // error() is the channel's
}

ByteStream::Io TlsStream::Handshake() { return Translate(tls_.Handshake()); }

ByteStream::Io TlsStream::Read(char* data, size_t size, size_t* read) {
  return Translate(tls_.Read(data, size, read));
}

ByteStream::Io TlsStream::Write(const char* data, size_t size, size_t* written) {
  return Translate(tls_.Write(data, size, written));
}

void TlsStream::Close() {
  tls_.Close();
  TcpStream::Close();
}

}  // namespace iothub::transport
