#include "http/error_response.h"

#include <nlohmann/json.hpp>

#include "core/crypto.h"
#include "core/time_format.h"

namespace iothub::http {
namespace {

constexpr const char* kJsonType = "application/json; charset=utf-8";

std::string TrackingId() {
  std::string hex;
  static const char kDigits[] = "0123456789abcdef";
  for (unsigned char c : crypto::RandomBytes(16)) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  return hex;
}

}  // namespace

int HttpStatusOf(ErrorCode code) { return ErrorCodeNumber(code) / 1000; }

HttpResponse ErrorResponse(const Status& status) {
  // The Node SDK splits Message on ';' and ':' to find the code and text, so
  // the text must not start the body with either; ';' inside it is harmless.
  nlohmann::json body = {
      {"Message", std::string("ErrorCode:") + ErrorCodeName(status.code()) + ";" + status.message()},
      {"ExceptionMessage",
       "Tracking ID:" + TrackingId() + "-G:emulator-TimeStamp:" + FormatErrorTimestamp(Clock::now())},
  };
  HttpResponse res = JsonResponse(HttpStatusOf(status.code()), body);
  res.headers.Set("iothub-errorcode", ErrorCodeName(status.code()));
  return res;
}

HttpResponse JsonResponse(int http_status, const nlohmann::json& body) {
  HttpResponse res;
  res.status = http_status;
  res.content_type = kJsonType;
  // Invalid UTF-8 (a device's non-JSON method answer, say) becomes U+FFFD rather than a 500.
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

}  // namespace iothub::http
