// The query string is parsed as cpp-httplib 0.11 parsed it (query_string.h).
#include "http/query_string.h"

#include <doctest/doctest.h>

namespace iothub::http {

TEST_CASE("Query string: pairs decoded with '+' as a space, broken escapes kept, first of a name wins") {
  struct Case {
    const char* raw;
    QueryParams want;
  };
  const Case cases[] = {
      {"", {}},
      {"api-version=2021-04-12", {{"api-version", "2021-04-12"}}},
      {"top=5&api-version=x", {{"top", "5"}, {"api-version", "x"}}},
      {"deviceId=a%2Fb", {{"deviceId", "a/b"}}},
      {"deviceId=a+b%2B", {{"deviceId", "a b+"}}},
      {"from=2024-01-01T00%3A00%3A00Z", {{"from", "2024-01-01T00:00:00Z"}}},
      {"x=%zz%4", {{"x", "%zz%4"}}},  // kept as written
      {"x=a=b", {{"x", "a=b"}}},       // split at the first '='
      {"flag", {{"flag", ""}}},
      {"&&=v&a=1&", {{"a", "1"}}},     // empty pairs and names dropped
      {"a%20b=1", {{"a b", "1"}}},     // names are decoded too
      {"a=1&a=2", {{"a", "1"}, {"a", "2"}}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.raw);
    CHECK(ParseQueryString(c.raw) == c.want);
  }
  HttpRequest req;
  req.query = ParseQueryString("a=1&a=2");
  CHECK(req.Query("a") == "1");
  CHECK_FALSE(req.Query("b").has_value());
}

TEST_CASE("HttpHeaders: names compare case-insensitively, Set replaces every field of the name") {
  HttpHeaders headers;
  headers.Add("If-Match", "\"1\"");
  headers.Add("if-match", "\"2\"");
  REQUIRE(headers.Find("IF-MATCH"));
  CHECK(*headers.Find("IF-MATCH") == "\"1\"");
  CHECK_FALSE(headers.Has("If-None-Match"));
  headers.Set("IF-match", "*");
  CHECK(headers.fields().size() == 1);
  CHECK(*headers.Find("if-match") == "*");
}

}  // namespace iothub::http
