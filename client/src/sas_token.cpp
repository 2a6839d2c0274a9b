#include "iothub/sas_token.h"

#include "url_encode.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <stdexcept>

namespace iothub::client {
namespace {


}  // namespace

std::string MakeSasToken(const std::string& resource, const std::string& base64_key, int64_t expiry,
                         const std::optional<std::string>& key_name) {
  std::string key(base64_key.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(key.data()),
                          reinterpret_cast<const unsigned char*>(base64_key.data()), static_cast<int>(base64_key.size()));
  if (n < 0 || base64_key.empty() || base64_key.size() % 4 != 0) throw std::invalid_argument("the key is not base64");
  key.resize(n - (base64_key.ends_with("==") ? 2 : base64_key.ends_with("=") ? 1 : 0));

  const std::string sr = detail::UrlEncode(resource);
  const std::string to_sign = sr + "\n" + std::to_string(expiry);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(to_sign.data()),
       to_sign.size(), digest, &length);
  std::string signature(4 * ((length + 2) / 3), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(signature.data()), digest, static_cast<int>(length));

  std::string token = "SharedAccessSignature sr=" + sr + "&sig=" + detail::UrlEncode(signature) + "&se=" + std::to_string(expiry);
  if (key_name) token += "&skn=" + detail::UrlEncode(*key_name);
  return token;
}

std::optional<int64_t> SasTokenExpiry(const std::string& token) {
  size_t at = token.find("se=");
  while (at != std::string::npos && at > 0 && token[at - 1] != '&' && token[at - 1] != ' ') at = token.find("se=", at + 1);
  if (at == std::string::npos) return std::nullopt;
  try {
    return std::stoll(token.substr(at + 3));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace iothub::client
