// Percent-encoding as the SDKs use it in SAS tokens and paths.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace iothub {

// Decodes %XX escapes (and '+' as space when plus_is_space); nullopt on a broken escape.
std::optional<std::string> UrlDecode(std::string_view text, bool plus_is_space = false);
// The same, but a broken escape stays as written, as browsers and cpp-httplib read query strings.
std::string UrlDecodeLenient(std::string_view text, bool plus_is_space);
// JavaScript's encodeURIComponent: keeps A-Z a-z 0-9 - _ . ! ~ * ' ( ), escapes the rest in upper-case hex.
std::string UrlEncodeComponent(std::string_view text);

}  // namespace iothub
