// TLS on a non-blocking socket, driven by the caller's readiness waits. Unlike
// asio::ssl::stream, it keeps no buffers of its own, and with
// SSL_MODE_RELEASE_BUFFERS OpenSSL frees its record buffers while a connection
// is idle: an idle device costs a few KiB, not the ~70 KiB of asio's stream.
// Not thread-safe: one owner (an Asio strand) at a time.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <string>

namespace iothub::tls {

class TlsChannel {
 public:
  enum class Io {
    kDone,       // the call did its work (or part of it, see the byte count)
    kWantRead,   // call again when the socket is readable
    kWantWrite,  // call again when the socket is writable
    kClosed,     // the peer ended the stream
    kFailed,     // a TLS or socket error; see error()
  };

  // fd must be non-blocking and outlive the channel.
  TlsChannel(SSL_CTX* ctx, int fd);
  ~TlsChannel();
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  Io Handshake();
  Io Read(char* data, size_t size, size_t* read);
  Io Write(const char* data, size_t size, size_t* written);
  // Bytes already decrypted and waiting: read them without waiting for the socket.
  // (SSL_has_pending also counts records read from the socket but not yet decrypted.)
  bool HasBufferedInput() const { return SSL_has_pending(ssl_) == 1; }
  // Sends close_notify if it can without waiting.
  void Close();
  const std::string& error() const { return error_; }

 private:
  Io Classify(int ret);

  SSL* ssl_;
  std::string error_;
};

}  // namespace iothub::tls
