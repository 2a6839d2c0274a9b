#include "http/query_string.h"

#include "core/url_encoding.h"

namespace iothub::http {

std::string DecodeQueryComponent(std::string_view text) { return UrlDecodeLenient(text, true); }

QueryParams ParseQueryString(std::string_view raw_query) {
  QueryParams params;
  while (!raw_query.empty()) {
    const size_t amp = raw_query.find('&');
    const std::string_view pair = raw_query.substr(0, amp);
    raw_query = amp == std::string_view::npos ? std::string_view() : raw_query.substr(amp + 1);
    const size_t eq = pair.find('=');
    std::string name = DecodeQueryComponent(pair.substr(0, eq));
    if (name.empty()) continue;
    params.emplace_back(std::move(name),
                        eq == std::string_view::npos ? std::string() : DecodeQueryComponent(pair.substr(eq + 1)));
  }
  return params;
}

}  // namespace iothub::http
