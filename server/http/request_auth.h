// Authorisation of a REST request by the SAS token in its Authorization header.
#pragma once

#include <httplib.h>

#include <string_view>

#include "core/access_policy.h"
#include "http/http_context.h"

namespace iothub::http {

// True when the request may act on `target` (e.g. "devices/dev1") with one of
// `any_of`; otherwise writes the 401 error response and returns false.
bool Authorize(const HttpContext& ctx, const httplib::Request& req, httplib::Response& res, std::string_view target,
               Permissions any_of);

}  // namespace iothub::http
