#include "tls/dev_certificates.h"

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <filesystem>

namespace iothub::tls {
namespace {

X509* Cert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return cert;
}

// Verifies server against ca as a TLS client would, for host.
bool Verifies(const TlsMaterial& m, const char* host) {
  X509* ca = Cert(m.ca_pem);
  X509* server = Cert(m.cert_pem);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, server, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  unsigned char ip[16];
  if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host);
  } else {
    X509_VERIFY_PARAM_set1_host(param, host, 0);
  }
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(server);
  X509_free(ca);
  return ok;
}

std::filesystem::path TempDir() {
  auto dir = std::filesystem::temp_directory_path() / ("iothub-emulator-certs-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

}  // namespace

TEST_CASE("Dev certificates: the server certificate verifies against the CA for every local name") {
  auto m = CreateInMemoryDevCertificates({"myhub.example"});
  for (const char* host : {"localhost", "127.0.0.1", "::1", "myhub.example"}) {
    CAPTURE(host);
    CHECK(Verifies(m, host));
  }
  CHECK_FALSE(Verifies(m, "example.com"));
}

TEST_CASE("Dev certificates: made once, then reused, and a new host name renews only the server certificate") {
  auto dir = TempDir();
  auto first = LoadOrCreateDevCertificates(dir, {});
  CHECK(first.created);
  CHECK(std::filesystem::exists(dir / "ca.pem"));
  CHECK((std::filesystem::status(dir / "ca.key").permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);

  auto again = LoadOrCreateDevCertificates(dir, {});
  CHECK_FALSE(again.created);
  CHECK(again.ca_pem == first.ca_pem);
  CHECK(again.cert_pem == first.cert_pem);

  auto renamed = LoadOrCreateDevCertificates(dir, {"gateway.local"});
  CHECK(renamed.ca_pem == first.ca_pem);  // users keep trusting the same CA
  CHECK(renamed.cert_pem != first.cert_pem);
  CHECK(Verifies(renamed, "gateway.local"));
  std::filesystem::remove_all(dir);
}

}  // namespace iothub::tls
