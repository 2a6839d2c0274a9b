// The query string of a request target, read as cpp-httplib 0.11 read it, so that
// moving off it changes nothing a client relies on: pairs split on '&', names and
// values percent-decoded with '+' as a space (HTML form encoding, which browsers
// and curl --data-urlencode use), a broken escape such as "%zz" kept as written
// rather than refused, pairs with an empty name dropped; a name may repeat and
// HttpRequest::Query takes the first. Two deliberate differences: a pair splits at
// its first '=' ("x=a=b" is x = "a=b"; httplib kept only "b"), and the non-standard
// "%uXXXX" is not decoded.
#pragma once

#include <string>
#include <string_view>

#include "http/http_message.h"

namespace iothub::http {

// raw_query: the text after the first '?' of the request target, as sent.
QueryParams ParseQueryString(std::string_view raw_query);

// Percent-decoding that never fails: a '%' not followed by two hex digits stays.
std::string DecodeQueryComponent(std::string_view text);

}  // namespace iothub::http
