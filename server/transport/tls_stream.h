// A ByteStream of TLS on a plain TCP socket (tls::TlsChannel: no buffers of its
// own, OpenSSL's released while idle), for the device endpoints' TLS ports.
#pragma once

#include <openssl/ssl.h>

#include "tls/tls_channel.h"
#include "transport/tcp_stream.h"

namespace iothub::transport {

class TlsStream final : public TcpStream {
 public:
  // ctx: the listener's context (TlsServerContext), which outlives the stream.
  TlsStream(asio::ip::tcp::socket socket, SSL_CTX* ctx);

  Io Handshake() override;
  Io Read(char* data, size_t size, size_t* read) override;
  Io Write(const char* data, size_t size, size_t* written) override;
  bool HasBufferedInput() const override { return tls_.HasBufferedInput(); }
  void Close() override;
  const std::string& error() const override { return tls_.error(); }
  const char* kind() const override { return "TLS"; }

 private:
  static Io Translate(tls::TlsChannel::Io io);

  tls::TlsChannel tls_;
};

}  // namespace iothub::transport
