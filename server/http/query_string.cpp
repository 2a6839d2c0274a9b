#include "http/query_string.h"

namespace iothub::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string DecodeQueryComponent(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c == '+' ? ' ' : c);
    }
  }
  return out;
}

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
