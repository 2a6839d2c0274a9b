// The query string of a request target, as cpp-httplib 0.11 parsed it, so that
// moving off it changes nothing a client sees: pairs split on '&', then at the
// first '=' (no '=': an empty value); names and values percent-decoded with '+'
// as a space (HTML form encoding, which browsers and curl --data-urlencode use);
// a broken escape such as "%zz" kept as written rather than refused; pairs with
// an empty name dropped. A name may repeat; HttpRequest::Query takes the first.
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
