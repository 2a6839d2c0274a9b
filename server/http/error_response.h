// The one place that writes IoT Hub's REST error form (spec §4.4): the legacy
// body {"Message":"ErrorCode:<Name>;<text>","ExceptionMessage":"..."} that the
// Node SDK parses, the `iothub-errorcode` header .NET reads, and the HTTP status
// taken from the error's six-digit code.
#pragma once

#include <httplib.h>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"

namespace iothub::http {

int HttpStatusOf(ErrorCode code);
void WriteError(httplib::Response& res, const Status& status);
void WriteJson(httplib::Response& res, int http_status, const nlohmann::json& body);

}  // namespace iothub::http
