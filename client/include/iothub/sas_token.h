// Shared access signature tokens, signed as the Azure SDKs sign them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace iothub::client {

// "SharedAccessSignature sr=<encoded resource>&sig=<signature>&se=<expiry>[&skn=<policy>]".
// resource e.g. "localhost/devices/dev1"; base64_key as in the connection string.
// Throws std::invalid_argument when the key is not base64.
std::string MakeSasToken(const std::string& resource, const std::string& base64_key, int64_t expiry_unix_seconds,
                         const std::optional<std::string>& key_name = std::nullopt);

// The `se` of a token, or nullopt.
std::optional<int64_t> SasTokenExpiry(const std::string& token);

}  // namespace iothub::client
