// The router matches the raw path and decodes captures once, after matching.
#include "http/router.h"

#include <doctest/doctest.h>

#include <stdexcept>

namespace iothub::http {
namespace {

const RoutePattern kPatterns[] = {
    {HttpMethod::kGet, "/devices"},
    {HttpMethod::kGet, "/devices/{deviceId}"},
    {HttpMethod::kPut, "/devices/{deviceId}"},
    {HttpMethod::kPost, "/twins/{deviceId}/methods"},
    {HttpMethod::kGet, "/things/{name}"},
};

}  // namespace

TEST_CASE("Router: matches method and raw path and decodes each capture once") {
  const Router router(kPatterns);
  struct Case {
    const char* method;
    const char* path;
    size_t route;
    const char* param;  // the capture's decoded value; "" when the route has none
  };
  const Case cases[] = {
      {"GET", "/devices", 0, ""},
      {"GET", "/devices/", 0, ""},  // the SDKs' trailing slash
      {"GET", "/devices/dev1", 1, "dev1"},
      {"GET", "/devices/dev1/", 1, "dev1"},
      {"PUT", "/devices/dev1", 2, "dev1"},
      {"POST", "/twins/a-b.c/methods", 3, "a-b.c"},
      {"GET", "/devices/50%2541", 1, "50%41"},  // decoded once: not "50A"
      {"GET", "/devices/%41%62", 1, "Ab"},
      {"GET", "/things/caf%C3%A9", 4, "caf\xC3\xA9"},  // any capture but a device id may be UTF-8
  };
  for (const Case& c : cases) {
    CAPTURE(c.path);
    auto match = router.Match(c.method, c.path);
    REQUIRE(match.ok());
    CHECK(match->route == c.route);
    if (*c.param) {
      REQUIRE(match->params.size() == 1);
      CHECK(match->params[0].second == c.param);
    } else {
      CHECK(match->params.empty());
    }
  }
}

TEST_CASE("Router: no route is ResourceNotFound") {
  const Router router(kPatterns);
  for (auto [method, path] : std::initializer_list<std::pair<const char*, const char*>>{
           {"DELETE", "/devices/dev1"},   // known path, other method
           {"HEAD", "/devices"},          // only the five methods have routes
           {"GET", "/Devices"},           // literals compare exactly
           {"GET", "/devices//"},         // a capture takes a non-empty segment
           {"GET", "/devices/a/b"},
           {"GET", "/%64evices"},         // literals are not decoded
           {"GET", "devices"},
           {"GET", ""},
           {"GET", "/"},
       }) {
    CAPTURE(path);
    auto match = router.Match(method, path);
    REQUIRE_FALSE(match.ok());
    CHECK(match.status().code() == ErrorCode::kResourceNotFound);
  }
}

TEST_CASE("Router: a capture that decodes to what its name does not allow is ArgumentInvalid") {
  const Router router(kPatterns);
  for (const char* path : {
           "/devices/a%2Fb",    // an escaped '/' stays in its segment, then is refused
           "/devices/%2F",
           "/devices/%FF",      // not UTF-8, and not in IoT Hub's device id alphabet
           "/devices/a%20b",    // a space is not allowed in a device id
           "/devices/a%G1",     // broken escapes
           "/devices/a%4",
           "/devices/%",
           "/things/%FF",       // other captures: UTF-8 ...
           "/things/%C0%AF",    // ... not overlong ...
           "/things/a%2Fb",     // ... without '/' ...
           "/things/a%00b",     // ... or NUL
       }) {
    CAPTURE(path);
    auto match = router.Match("GET", path);
    REQUIRE_FALSE(match.ok());
    CHECK(match.status().code() == ErrorCode::kArgumentInvalid);
  }
  const std::string long_id = "/devices/" + std::string(129, 'x');
  CHECK(router.Match("GET", long_id).status().code() == ErrorCode::kArgumentInvalid);
  CHECK(router.Match("GET", "/devices/" + std::string(128, 'x')).ok());
}

TEST_CASE("Router: a malformed pattern is refused when the table is built") {
  const RoutePattern no_slash[] = {{HttpMethod::kGet, "devices"}};
  const RoutePattern empty_segment[] = {{HttpMethod::kGet, "/devices//x"}};
  CHECK_THROWS_AS(Router{no_slash}, std::invalid_argument);
  CHECK_THROWS_AS(Router{empty_segment}, std::invalid_argument);
}

}  // namespace iothub::http
