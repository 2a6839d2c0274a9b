// Shared access signature tokens (spec §1): parsing, signing and creating them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace iothub {

struct SasToken {
  std::string resource_as_sent;         // `sr` exactly as in the token, still URL-encoded: what was signed
  std::string resource;                 // `sr` URL-decoded: "host/devices/dev1"
  std::string signature;                // `sig` URL-decoded: base64 HMAC
  int64_t expiry = 0;                   // `se`, seconds since the Unix epoch
  std::optional<std::string> key_name;  // `skn` URL-decoded: a hub policy; absent for device keys
};

// Parses "SharedAccessSignature sr=...&sig=...&se=...[&skn=...]", fields in any order.
Result<SasToken> ParseSasToken(std::string_view text);

// base64(HMAC-SHA256(base64-decode(key), resource_as_sent + "\n" + expiry)); nullopt if the key is not base64.
std::optional<std::string> SignSas(std::string_view resource_as_sent, int64_t expiry, std::string_view base64_key);

// True when the token's signature was made with this base64 key over its literal `sr`.
bool SasSignatureMatches(const SasToken& token, std::string_view base64_key);
// The same for an Event Hubs / Service Bus token (`sr=sb://...`): those SDKs sign with the
// key's text as it is written (its UTF-8 bytes), not with the bytes it decodes to.
bool SasSignatureMatchesKeyText(const SasToken& token, std::string_view key_text);

// A token as the Node.js device SDK writes it: sr=encodeURIComponent(resource), sig, [skn], se.
std::string CreateSasToken(std::string_view resource, std::string_view base64_key, int64_t expiry,
                           std::optional<std::string_view> key_name = std::nullopt);

}  // namespace iothub
