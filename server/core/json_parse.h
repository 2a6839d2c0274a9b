// The one way outside JSON is parsed: with its nesting bounded while parsing.
// nlohmann parses iteratively, but dumping, copying and our own walks recurse,
// so a body of 100,000 nested arrays (200 KB) would overflow the stack later.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "core/status.h"

namespace iothub {

// Json.NET's default MaxDepth, which IoT Hub's own service parses with:
// objects and arrays together, the outermost value counting as 1.
inline constexpr int kMaxJsonDepth = 64;

struct ParsedJson {
  enum class Error { kNone, kSyntax, kTooDeep };
  nlohmann::json value;  // discarded unless ok()
  Error error = Error::kNone;
  int max_depth = kMaxJsonDepth;

  bool ok() const { return error == Error::kNone; }
  // "not valid JSON" or "nests deeper than 64 levels": for an error body.
  std::string Describe() const;
};

ParsedJson ParseJson(std::string_view text, int max_depth = kMaxJsonDepth);

// A request body or payload: IotHubFormatError (400) when it is not valid JSON or
// nests too deep, with `what` ("The request body") named in the message.
Result<nlohmann::json> ParseJsonValue(std::string_view text, std::string_view what = "The request body");

// The deepest nesting of objects and arrays in a value (a scalar is 0).
int JsonDepth(const nlohmann::json& value);

}  // namespace iothub
