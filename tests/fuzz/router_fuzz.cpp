// The REST API's reading of a request target: the router over the raw path
// (the real route table), percent-decoding of its captures, and the query
// string. Input: "<method> <target>", as on a request line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/device.h"
#include "core/url_encoding.h"
#include "fuzz_check.h"
#include "http/query_string.h"
#include "http/routes.h"

namespace {

using iothub::fuzz::Check;
using namespace iothub;
using namespace iothub::http;

void CheckRoute(std::string_view method, std::string_view path) {
  auto routed = RouteApiRequest(method, path);
  if (!routed.ok()) {
    const ErrorCode code = routed.status().code();
    Check(code == ErrorCode::kResourceNotFound || code == ErrorCode::kArgumentInvalid,
          "a request the router refuses is a 404 or a 400");
    return;
  }
  for (const auto& [name, value] : routed->params) {
    Check(name == "deviceId", "the route table captures device ids only");
    Check(ValidateDeviceId(value).ok(), "a routed device id is one IoT Hub allows");
    // Any id the router lets through can be addressed as the SDKs write it.
    auto as_sdk_sends = RouteApiRequest("GET", "/devices/" + UrlEncodeComponent(value));
    Check(as_sdk_sends.ok() && as_sdk_sends->params == routed->params, "an accepted id routes again encoded");
  }
  // One trailing '/' changes nothing (the SDKs send "/devices/").
  if (!path.ends_with('/')) {
    auto slashed = RouteApiRequest(method, std::string(path) + "/");
    Check(slashed.ok() && slashed->params == routed->params && slashed->handler == routed->handler,
          "a trailing slash routes the same");
  }
}

void CheckQuery(std::string_view raw_query) {
  const QueryParams params = ParseQueryString(raw_query);
  std::string encoded;
  for (const auto& [name, value] : params) {
    Check(!name.empty(), "a query parameter has a name");
    if (!encoded.empty()) encoded += '&';
    encoded += UrlEncodeComponent(name) + "=" + UrlEncodeComponent(value);
  }
  Check(ParseQueryString(encoded) == params, "parameters encoded again parse back the same");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t space = input.find(' ');
  const std::string_view method = input.substr(0, space);
  const std::string_view target = space == std::string_view::npos ? std::string_view() : input.substr(space + 1);
  const size_t question = target.find('?');
  CheckRoute(method, target.substr(0, question));
  if (question != std::string_view::npos) CheckQuery(target.substr(question + 1));
  return 0;
}
