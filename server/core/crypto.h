// Thin wrappers over OpenSSL for what SAS tokens and keys need.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace iothub::crypto {

std::string Base64Encode(std::string_view bytes);
// Strict standard base64 (with padding); nullopt for anything else.
std::optional<std::string> Base64Decode(std::string_view text);
std::string HmacSha256(std::string_view key, std::string_view data);
// The raw 20-byte digest (the WebSocket handshake needs it; nothing secret does).
std::string Sha1(std::string_view data);
std::string RandomBytes(size_t count);
// A random (version 4) UUID, lower-case: "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".
std::string RandomUuid();
// Compares in time independent of where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace iothub::crypto
