#include "http/http_message.h"

#include <algorithm>

namespace iothub::http {
namespace {

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; };
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace

void HttpHeaders::Set(std::string name, std::string value) {
  std::erase_if(fields_, [&](const auto& field) { return EqualsIgnoringCase(field.first, name); });
  Add(std::move(name), std::move(value));
}

const std::string* HttpHeaders::Find(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (EqualsIgnoringCase(n, name)) return &v;
  }
  return nullptr;
}

const std::string& HttpRequest::RouteParam(std::string_view name) const {
  static const std::string kNone;
  for (const auto& [n, v] : route_params) {
    if (n == name) return v;
  }
  return kNone;
}

std::optional<std::string> HttpRequest::Query(std::string_view name) const {
  for (const auto& [n, v] : query) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace iothub::http
