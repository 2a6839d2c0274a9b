// The REST API's route table (spec §4.2, plus the emulator's /emulator/ endpoints):
// the one place that says which method and path reach which handler.
#pragma once

#include <string_view>
#include <variant>

#include "core/status.h"
#include "http/http_context.h"
#include "http/http_message.h"

namespace iothub::http {

using PlainHandler = HttpResponse (*)(const HttpContext&, const HttpRequest&);
using AsyncHandler = void (*)(const HttpContext&, const HttpRequest&, ResponseCallback);
using StreamingHandler = StreamingReply (*)(const HttpContext&, const HttpRequest&);
using RouteHandler = std::variant<PlainHandler, AsyncHandler, StreamingHandler>;

struct RoutedRequest {
  RouteHandler handler;
  RouteParams params;  // for HttpRequest::route_params
};

// The handler for a method and raw path (see Router::Match), or the error to answer
// with: 404 ResourceNotFound, or 400 ArgumentInvalid for a bad device id. Thread-safe.
Result<RoutedRequest> RouteApiRequest(std::string_view method, std::string_view raw_path);

}  // namespace iothub::http
