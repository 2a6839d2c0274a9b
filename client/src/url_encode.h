// Percent-encoding of everything but RFC 3986's unreserved characters, as the
// SDKs encode SAS resources and MQTT property bags. Internal to the client library.
#pragma once

#include <cctype>
#include <string>

namespace iothub::client::detail {

inline std::string UrlEncode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace iothub::client::detail
