// Authorisation of a REST request by the SAS token in its Authorization header.
#pragma once

#include <string_view>

#include "core/access_policy.h"
#include "core/status.h"
#include "http/http_context.h"
#include "http/http_message.h"

namespace iothub::http {

// OK when the request may act on `target` (e.g. "devices/dev1") with one of
// `any_of`; otherwise the 401 to answer with.
Status Authorize(const HttpContext& ctx, const HttpRequest& req, std::string_view target, Permissions any_of);

}  // namespace iothub::http
