#include "http/request_auth.h"

#include "http/error_response.h"

namespace iothub::http {

bool Authorize(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res, std::string_view target,
               Permissions any_of) {
  if (!req.has_header("Authorization")) {
    WriteError(res, Status::Unauthorized("The Authorization header with a SharedAccessSignature token is missing"));
    return false;
  }
  auto principal = ctx.authenticator.Authorize(req.get_header_value("Authorization"), target, any_of);
  if (!principal.ok()) {
    WriteError(res, principal.status());
    return false;
  }
  return true;
}

}  // namespace iothub::http
