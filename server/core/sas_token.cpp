#include "core/sas_token.h"

#include <charconv>

#include "core/crypto.h"
#include "core/url_encoding.h"

namespace iothub {

Result<SasToken> ParseSasToken(std::string_view text) {
  constexpr std::string_view kPrefix = "SharedAccessSignature ";
  if (!text.starts_with(kPrefix)) return Status::Unauthorized("Authorization is not a SharedAccessSignature token");
  std::string_view fields = text.substr(kPrefix.size());

  SasToken token;
  bool have_sr = false, have_sig = false, have_se = false;
  while (!fields.empty()) {
    size_t amp = fields.find('&');
    std::string_view field = fields.substr(0, amp);
    fields = amp == std::string_view::npos ? std::string_view() : fields.substr(amp + 1);
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) return Status::Unauthorized("Malformed SharedAccessSignature field");
    std::string_view key = field.substr(0, eq), raw = field.substr(eq + 1);
    auto value = UrlDecode(raw);
    if (!value) return Status::Unauthorized("Malformed URL encoding in SharedAccessSignature");
    if (key == "sr") {
      token.resource_as_sent = std::string(raw);
      token.resource = *value;
      have_sr = true;
    } else if (key == "sig") {
      token.signature = *value;
      have_sig = true;
    } else if (key == "se") {
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), token.expiry);
      if (ec != std::errc() || end != value->data() + value->size()) {
        return Status::Unauthorized("SharedAccessSignature expiry 'se' is not an integer");
      }
      have_se = true;
    } else if (key == "skn") {
      token.key_name = *value;
    }
    // Unknown fields are ignored, as the hub does.
  }
  if (!have_sr || !have_sig || !have_se) {
    return Status::Unauthorized("SharedAccessSignature needs sr, sig and se");
  }
  return token;
}

std::optional<std::string> SignSas(std::string_view resource_as_sent, int64_t expiry, std::string_view base64_key) {
  auto key = crypto::Base64Decode(base64_key);
  if (!key) return std::nullopt;
  std::string to_sign = std::string(resource_as_sent) + "\n" + std::to_string(expiry);
  return crypto::Base64Encode(crypto::HmacSha256(*key, to_sign));
}

bool SasSignatureMatches(const SasToken& token, std::string_view base64_key) {
  auto expected = SignSas(token.resource_as_sent, token.expiry, base64_key);
  return expected && crypto::ConstantTimeEquals(*expected, token.signature);
}

bool SasSignatureMatchesKeyText(const SasToken& token, std::string_view key_text) {
  std::string to_sign = token.resource_as_sent + "\n" + std::to_string(token.expiry);
  return crypto::ConstantTimeEquals(crypto::Base64Encode(crypto::HmacSha256(key_text, to_sign)), token.signature);
}

std::string CreateSasToken(std::string_view resource, std::string_view base64_key, int64_t expiry,
                           std::optional<std::string_view> key_name) {
  std::string sr = UrlEncodeComponent(resource);
  std::string token = "SharedAccessSignature sr=" + sr + "&sig=" +
                      UrlEncodeComponent(SignSas(sr, expiry, base64_key).value_or(""));
  if (key_name) token += "&skn=" + UrlEncodeComponent(*key_name);
  token += "&se=" + std::to_string(expiry);
  return token;
}

}  // namespace iothub
