#include "tls/dev_certificates.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace iothub::tls {
namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;

constexpr int kCaDays = 3650;
constexpr int kServerDays = 825;
constexpr long kRenewBeforeSeconds = 30L * 24 * 3600;

[[noreturn]] void Fail(const std::string& what) {
  char buf[256] = "no OpenSSL error";
  if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
  throw std::runtime_error(what + ": " + buf);
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

KeyPtr NewKey() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) Fail("generating an EC P-256 key");
  return key;
}

void AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str());
  if (!ext || !X509_add_ext(cert, ext, -1)) Fail("adding certificate extension " + value);
  X509_EXTENSION_free(ext);
}

// A certificate for subject_key named common_name, signed by issuer (itself when null).
CertPtr MakeCertificate(EVP_PKEY* subject_key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key,
                        const std::vector<std::string>& host_names) {
  CertPtr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial_bytes[16];
  RAND_bytes(serial_bytes, sizeof serial_bytes);
  serial_bytes[0] &= 0x7f;  // positive
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 3600 * (issuer ? kServerDays : kCaDays));
  X509_set_pubkey(cert.get(), subject_key);

  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("IoT Hub Emulator"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  if (issuer) {
    std::string san;
    for (const auto& host : host_names) san += (san.empty() ? "" : ",") + std::string(IsIpLiteral(host) ? "IP:" : "DNS:") + host;
    AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
    AddExtension(cert.get(), &ctx, NID_ext_key_usage, "serverAuth");
    AddExtension(cert.get(), &ctx, NID_subject_alt_name, san);
    AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  } else {
    AddExtension(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    AddExtension(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  }
  if (!X509_sign(cert.get(), issuer_key, EVP_sha256())) Fail("signing certificate " + common_name);
  return cert;
}

std::string ToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

std::string ToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

CertPtr CertFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return CertPtr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

KeyPtr KeyFromPem(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFileAtomically(const std::filesystem::path& path, const std::string& content, bool secret) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
    out << content;
  }
  if (secret) ::chmod(tmp.c_str(), 0600);
  std::filesystem::rename(tmp, path);
}

// True when cert is from ca, valid for a while yet, and names every host.
bool ServerCertificateFits(X509* cert, EVP_PKEY* key, X509* ca, const std::vector<std::string>& host_names) {
  if (X509_verify(cert, X509_get0_pubkey(ca)) != 1) return false;
  if (X509_check_private_key(cert, key) != 1) return false;
  std::time_t soon = std::time(nullptr) + kRenewBeforeSeconds;
  if (X509_cmp_time(X509_get0_notAfter(cert), &soon) <= 0) return false;
  for (const auto& host : host_names) {
    int ok = IsIpLiteral(host) ? X509_check_ip_asc(cert, host.c_str(), 0)
                               : X509_check_host(cert, host.c_str(), host.size(), 0, nullptr);
    if (ok != 1) return false;
  }
  return true;
}

std::vector<std::string> ServerNames(const std::vector<std::string>& host_names) {
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  for (const auto& h : host_names) {
    if (std::find(names.begin(), names.end(), h) == names.end()) names.push_back(h);
  }
  return names;
}

}  // namespace

TlsMaterial CreateInMemoryDevCertificates(const std::vector<std::string>& host_names) {
  auto names = ServerNames(host_names);
  KeyPtr ca_key = NewKey();
  CertPtr ca = MakeCertificate(ca_key.get(), "IoT Hub Emulator Development CA", nullptr, ca_key.get(), {});
  KeyPtr server_key = NewKey();
  CertPtr server = MakeCertificate(server_key.get(), names.front(), ca.get(), ca_key.get(), names);
  return {ToPem(server.get()), ToPem(server_key.get()), ToPem(ca.get()), {}, true};
}

TlsMaterial LoadOrCreateDevCertificates(const std::filesystem::path& dir, const std::vector<std::string>& host_names) {
  auto names = ServerNames(host_names);
  std::filesystem::create_directories(dir);
  const auto ca_path = dir / "ca.pem", ca_key_path = dir / "ca.key";
  const auto cert_path = dir / "server.pem", key_path = dir / "server.key";

  TlsMaterial m;
  CertPtr ca = CertFromPem(ReadFile(ca_path));
  KeyPtr ca_key = KeyFromPem(ReadFile(ca_key_path));
  if (!ca || !ca_key || X509_check_private_key(ca.get(), ca_key.get()) != 1) {
    ca_key = NewKey();
    ca = MakeCertificate(ca_key.get(), "IoT Hub Emulator Development CA", nullptr, ca_key.get(), {});
    WriteFileAtomically(ca_key_path, ToPem(ca_key.get()), true);
    WriteFileAtomically(ca_path, ToPem(ca.get()), false);
    m.created = true;
  }
  CertPtr server = CertFromPem(ReadFile(cert_path));
  KeyPtr server_key = KeyFromPem(ReadFile(key_path));
  if (!server || !server_key || !ServerCertificateFits(server.get(), server_key.get(), ca.get(), names)) {
    server_key = NewKey();
    server = MakeCertificate(server_key.get(), names.front(), ca.get(), ca_key.get(), names);
    WriteFileAtomically(key_path, ToPem(server_key.get()), true);
    WriteFileAtomically(cert_path, ToPem(server.get()), false);
  }
  m.cert_pem = ToPem(server.get());
  m.key_pem = ToPem(server_key.get());
  m.ca_pem = ToPem(ca.get());
  m.ca_path = ca_path;
  return m;
}

TlsMaterial LoadCertificateFiles(const std::filesystem::path& cert, const std::filesystem::path& key) {
  TlsMaterial m;
  m.cert_pem = ReadFile(cert);
  m.key_pem = ReadFile(key);
  if (!CertFromPem(m.cert_pem)) throw std::runtime_error("--tls-cert " + cert.string() + " is not a PEM certificate");
  if (!KeyFromPem(m.key_pem)) throw std::runtime_error("--tls-key " + key.string() + " is not a PEM private key");
  return m;
}

}  // namespace iothub::tls
