#include "tls/server_context.h"

#include <openssl/pem.h>

namespace iothub::tls {

bool ConfigureServerContext(SSL_CTX& ctx, const TlsMaterial& material) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);

  // The certificate file may hold a chain: the leaf first, then intermediates.
  BIO* certs = BIO_new_mem_buf(material.cert_pem.data(), static_cast<int>(material.cert_pem.size()));
  bool ok = false;
  if (X509* leaf = PEM_read_bio_X509(certs, nullptr, nullptr, nullptr)) {
    ok = SSL_CTX_use_certificate(&ctx, leaf) == 1;
    X509_free(leaf);
    while (ok) {
      X509* extra = PEM_read_bio_X509(certs, nullptr, nullptr, nullptr);
      if (!extra) break;
      ok = SSL_CTX_add_extra_chain_cert(&ctx, extra) == 1;  // takes ownership
    }
  }
  BIO_free(certs);
  if (!ok) return false;

  BIO* key_bio = BIO_new_mem_buf(material.key_pem.data(), static_cast<int>(material.key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  ok = key && SSL_CTX_use_PrivateKey(&ctx, key) == 1 && SSL_CTX_check_private_key(&ctx) == 1;
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace iothub::tls
