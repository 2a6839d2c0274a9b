#include "http/router.h"

#include <cstdint>
#include <stdexcept>

#include "core/device.h"
#include "core/url_encoding.h"

namespace iothub::http {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  path.remove_prefix(1);  // the leading '/'
  while (true) {
    const size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return segments;
    path.remove_prefix(slash + 1);
  }
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (text.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// The capture decoded once, or why it cannot name what the route's handler expects.
Result<std::string> DecodeCapture(std::string_view name, std::string_view raw) {
  auto decoded = UrlDecode(raw);
  if (!decoded) {
    return Status::ArgumentInvalid("The path segment '" + std::string(raw) + "' has a malformed percent-encoding");
  }
  if (name == "deviceId") {
    if (Status s = ValidateDeviceId(*decoded); !s.ok()) return s;
  } else if (!IsValidUtf8(*decoded) || decoded->find_first_of(std::string_view("/\0", 2)) != std::string::npos) {
    return Status::ArgumentInvalid("The path segment '" + std::string(raw) + "' is not a valid " + std::string(name));
  }
  return std::move(*decoded);
}

}  // namespace

const char* HttpMethodName(HttpMethod method) {
  switch (method) {
    case HttpMethod::kGet: return "GET";
    case HttpMethod::kPut: return "PUT";
    case HttpMethod::kPost: return "POST";
    case HttpMethod::kPatch: return "PATCH";
    case HttpMethod::kDelete: return "DELETE";
  }
  return "";
}

Router::Router(std::span<const RoutePattern> patterns) {
  for (const RoutePattern& pattern : patterns) {
    if (!pattern.path.starts_with('/')) throw std::invalid_argument("route pattern without a leading '/'");
    Route route{pattern.method, {}};
    for (std::string_view s : SplitPath(pattern.path)) {
      if (s.empty()) throw std::invalid_argument("route pattern with an empty segment");
      const bool capture = s.size() > 2 && s.front() == '{' && s.back() == '}';
      route.segments.push_back({std::string(capture ? s.substr(1, s.size() - 2) : s), capture});
    }
    routes_.push_back(std::move(route));
  }
}

Result<RouteMatch> Router::Match(std::string_view method, std::string_view raw_path) const {
  const auto not_found = [&] {
    return Status(ErrorCode::kResourceNotFound, "No operation " + std::string(method) + " " + std::string(raw_path));
  };
  if (!raw_path.starts_with('/')) return not_found();
  std::string_view path = raw_path;
  if (path.size() > 1 && path.ends_with('/')) path.remove_suffix(1);
  const std::vector<std::string_view> segments = SplitPath(path);

  for (size_t r = 0; r < routes_.size(); ++r) {
    const Route& route = routes_[r];
    if (method != HttpMethodName(route.method) || route.segments.size() != segments.size()) continue;
    bool matches = true;
    for (size_t i = 0; i < segments.size() && matches; ++i) {
      const Segment& want = route.segments[i];
      matches = want.capture ? !segments[i].empty() : segments[i] == want.text;
    }
    if (!matches) continue;
    // Decoded only now that the route is known: the decoded text is never matched again.
    RouteMatch match{r, {}};
    for (size_t i = 0; i < segments.size(); ++i) {
      if (!route.segments[i].capture) continue;
      auto value = DecodeCapture(route.segments[i].text, segments[i]);
      if (!value.ok()) return value.status();
      match.params.emplace_back(route.segments[i].text, std::move(value).value());
    }
    return match;
  }
  return not_found();
}

}  // namespace iothub::http
