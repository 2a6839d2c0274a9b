#include "core/status.h"

namespace iothub {
namespace {

struct ErrorInfo {
  const char* name;
  int number;
};

ErrorInfo Info(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidProtocolVersion: return {"InvalidProtocolVersion", 400001};
    case ErrorCode::kArgumentInvalid: return {"ArgumentInvalid", 400004};
    case ErrorCode::kArgumentNull: return {"ArgumentNull", 400005};
    case ErrorCode::kIotHubFormatError: return {"IotHubFormatError", 400006};
    case ErrorCode::kInvalidDeviceScope: return {"InvalidDeviceScope", 400028};
    case ErrorCode::kIotHubUnauthorizedAccess: return {"IotHubUnauthorizedAccess", 401002};
    case ErrorCode::kIotHubQuotaExceeded: return {"IotHubQuotaExceeded", 403002};
    case ErrorCode::kDeviceMaximumQueueDepthExceeded: return {"DeviceMaximumQueueDepthExceeded", 403004};
    case ErrorCode::kDeviceNotFound: return {"DeviceNotFound", 404001};
    case ErrorCode::kDeviceNotOnline: return {"DeviceNotOnline", 404103};
    case ErrorCode::kResourceNotFound: return {"ResourceNotFound", 404000};
    case ErrorCode::kMethodNotAllowed: return {"MethodNotAllowed", 405000};
    case ErrorCode::kDeviceAlreadyExists: return {"DeviceAlreadyExists", 409001};
    case ErrorCode::kPreconditionFailed: return {"PreconditionFailed", 412001};
    case ErrorCode::kDeviceMessageLockLost: return {"DeviceMessageLockLost", 412002};
    case ErrorCode::kMessageTooLarge: return {"MessageTooLarge", 413001};
    case ErrorCode::kServerError: return {"ServerError", 500001};
    case ErrorCode::kServiceUnavailable: return {"ServiceUnavailable", 503001};
    case ErrorCode::kGatewayTimeout: return {"GatewayTimeout", 504101};
  }
  return {"ServerError", 500001};
}

}  // namespace

const char* ErrorCodeName(ErrorCode code) { return Info(code).name; }
int ErrorCodeNumber(ErrorCode code) { return Info(code).number; }

}  // namespace iothub
