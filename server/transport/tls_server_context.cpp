#include "transport/tls_server_context.h"

#include <stdexcept>

#include "tls/server_context.h"

namespace iothub::transport {

TlsServerContext::TlsServerContext(const tls::TlsMaterial& material) : ctx_(SSL_CTX_new(TLS_server_method())) {
  if (!ctx_ || !tls::ConfigureServerContext(*ctx_, material)) {
    SSL_CTX_free(ctx_);
    throw std::runtime_error("the TLS certificate or key could not be loaded");
  }
  // Idle connections give their TLS buffers back: thousands of devices sit idle.
  SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS);
  // Devices reconnect rarely: a server-side session cache would keep memory per
  // connection for resumptions that seldom come. (TLS 1.3 tickets stay on: they
  // are stateless, and without them libmosquitto clients wait ~40 ms on delayed
  // ACKs before their CONNECT goes out.)
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
}

}  // namespace iothub::transport
