// The one place that writes IoT Hub's REST error form (spec §4.4): the legacy
// body {"Message":"ErrorCode:<Name>;<text>","ExceptionMessage":"..."} that the
// Node SDK parses, the `iothub-errorcode` header .NET reads, and the HTTP status
// taken from the error's six-digit code.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "http/http_message.h"

namespace iothub::http {

int HttpStatusOf(ErrorCode code);
// `status` must not be OK.
HttpResponse ErrorResponse(const Status& status);
HttpResponse JsonResponse(int http_status, const nlohmann::json& body);

}  // namespace iothub::http
