#include "tls/tls_channel.h"

#include <openssl/err.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace iothub::tls {

TlsChannel::TlsChannel(SSL_CTX* ctx, int fd) : ssl_(SSL_new(ctx)) {
  if (!ssl_ || SSL_set_fd(ssl_, fd) != 1) throw std::runtime_error("cannot create a TLS session");
  // Our write buffers stay put but may be retried from another call; partial
  // writes let one large packet go out as the socket drains.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_set_accept_state(ssl_);
}

TlsChannel::~TlsChannel() { SSL_free(ssl_); }

TlsChannel::Io TlsChannel::Classify(int ret) {
  int code = SSL_get_error(ssl_, ret);
  switch (code) {
    case SSL_ERROR_WANT_READ: return Io::kWantRead;
    case SSL_ERROR_WANT_WRITE: return Io::kWantWrite;
    case SSL_ERROR_ZERO_RETURN: return Io::kClosed;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0 && (ret == 0 || errno == 0 || errno == ECONNRESET || errno == EPIPE)) {
        return Io::kClosed;  // the peer went away without close_notify
      }
      error_ = std::strerror(errno);
      return Io::kFailed;
    default: {
      char buf[256] = "TLS error";
      if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
      error_ = buf;
      return Io::kFailed;
    }
  }
}

TlsChannel::Io TlsChannel::Handshake() {
  ERR_clear_error();  // the error queue is per thread, shared by every connection on it
  errno = 0;
  int ret = SSL_do_handshake(ssl_);
  return ret == 1 ? Io::kDone : Classify(ret);
}

TlsChannel::Io TlsChannel::Read(char* data, size_t size, size_t* read) {
  ERR_clear_error();
  errno = 0;
  *read = 0;
  int ret = SSL_read_ex(ssl_, data, size, read);
  return ret == 1 ? Io::kDone : Classify(ret);
}

TlsChannel::Io TlsChannel::Write(const char* data, size_t size, size_t* written) {
  ERR_clear_error();
  errno = 0;
  *written = 0;
  int ret = SSL_write_ex(ssl_, data, size, written);
  return ret == 1 ? Io::kDone : Classify(ret);
}

void TlsChannel::Close() {
  ERR_clear_error();
  SSL_shutdown(ssl_);  // non-blocking: best effort
  ERR_clear_error();
}

}  // namespace iothub::tls
