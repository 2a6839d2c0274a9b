#include "core/twin_reply.h"

#include <nlohmann/json.hpp>

namespace iothub {

TwinReply ErrorReply(const Status& failure) {
  const int code = ErrorCodeNumber(failure.code());
  nlohmann::json body = {{"errorCode", code}, {"message", failure.message()}};
  // Error paths must not throw: a message that is not UTF-8 gets U+FFFD instead.
  return {code / 1000, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), std::nullopt};
}

}  // namespace iothub
