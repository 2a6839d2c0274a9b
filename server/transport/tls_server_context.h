// The OpenSSL context of a device endpoint's TLS port, set up for many mostly
// idle connections. One per listener set (MQTT today, AMQP next); it must
// outlive every stream made with it.
#pragma once

#include <openssl/ssl.h>

#include "tls/dev_certificates.h"

namespace iothub::transport {

class TlsServerContext {
 public:
  // Throws when the certificate or key cannot be loaded.
  explicit TlsServerContext(const tls::TlsMaterial& material);
  ~TlsServerContext() { SSL_CTX_free(ctx_); }
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  SSL_CTX* get() const { return ctx_; }

 private:
  SSL_CTX* ctx_;
};

}  // namespace iothub::transport
