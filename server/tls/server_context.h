// Puts TLS material into an OpenSSL server context (TLS 1.2+), for every listener.
#pragma once

#include <openssl/ssl.h>

#include "tls/dev_certificates.h"

namespace iothub::tls {

// False (with OpenSSL's error queue set) when the certificate or key does not load.
bool ConfigureServerContext(SSL_CTX& ctx, const TlsMaterial& material);

}  // namespace iothub::tls
