// Routing of the REST API by method and path pattern over the RAW request path.
// Matching happens before any percent-decoding, so an escaped '/' ("%2F") stays
// inside its segment instead of making a new one; each capture is then decoded
// once and checked, and a bad one is IoT Hub's 400 ArgumentInvalid, not a 404.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "http/http_message.h"

namespace iothub::http {

enum class HttpMethod { kGet, kPut, kPost, kPatch, kDelete };

// "GET" and so on.
const char* HttpMethodName(HttpMethod method);

// A method and a path of literal segments and "{name}" captures: "/twins/{deviceId}/methods".
struct RoutePattern {
  HttpMethod method;
  std::string_view path;
};

struct RouteMatch {
  size_t route = 0;    // index into the patterns the Router was made with
  RouteParams params;  // the captures by name, each percent-decoded once
};

class Router {
 public:
  // Throws std::invalid_argument for a pattern that does not start with '/' or has
  // an empty segment (a bug in the route table, found at startup).
  explicit Router(std::span<const RoutePattern> patterns);

  // The first pattern, in table order, for this method and raw path (the target as
  // sent, up to '?'). Literal segments compare exactly; a capture takes one non-empty
  // segment; one trailing '/' is ignored (the SDKs send "/devices/").
  // Errors: ResourceNotFound when nothing matches (any method other than the five
  // has no route); ArgumentInvalid when a capture's percent-encoding is broken or it
  // decodes to text its name does not allow: "deviceId" must pass ValidateDeviceId,
  // any other capture must be valid UTF-8 without '/' or NUL.
  Result<RouteMatch> Match(std::string_view method, std::string_view raw_path) const;

 private:
  struct Segment {
    std::string text;  // the literal, or the capture's name
    bool capture = false;
  };
  struct Route {
    HttpMethod method;
    std::vector<Segment> segments;
  };

  std::vector<Route> routes_;
};

}  // namespace iothub::http
