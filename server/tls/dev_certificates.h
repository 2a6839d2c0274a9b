// The development CA and server certificate (ECDSA P-256) that let the SDKs
// verify the emulator like a real hub: made on first start, kept in the data
// directory and reused, so users trust the CA once.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace iothub::tls {

struct TlsMaterial {
  std::string cert_pem;             // server certificate
  std::string key_pem;              // its private key
  std::string ca_pem;               // the CA that signed it (empty for user-supplied certificates)
  std::filesystem::path ca_path;    // where the CA is on disk, empty when in memory
  bool created = false;             // true when a new CA was made now
};

// Loads dir/ca.pem, ca.key, server.pem, server.key. Makes the CA if missing, and
// the server certificate if missing, not from this CA, expiring within 30 days,
// or not valid for every name in host_names (DNS names and IP literals).
// Files are replaced atomically; keys are readable by the owner only.
TlsMaterial LoadOrCreateDevCertificates(const std::filesystem::path& dir, const std::vector<std::string>& host_names);

// The same certificates, made in memory and never written.
TlsMaterial CreateInMemoryDevCertificates(const std::vector<std::string>& host_names);

// A user's own certificate (chain) and key in PEM files.
TlsMaterial LoadCertificateFiles(const std::filesystem::path& cert, const std::filesystem::path& key);

}  // namespace iothub::tls
