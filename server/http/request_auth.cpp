#include "http/request_auth.h"

namespace iothub::http {

Status Authorize(const HttpContext& ctx, const HttpRequest& req, std::string_view target, Permissions any_of) {
  const std::string* token = req.headers.Find("Authorization");
  if (!token) return Status::Unauthorized("The Authorization header with a SharedAccessSignature token is missing");
  auto principal = ctx.authenticator.Authorize(*token, target, any_of);
  return principal.ok() ? Status::Ok() : principal.status();
}

}  // namespace iothub::http
