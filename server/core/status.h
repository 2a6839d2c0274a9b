// Expected failures as values. A Status carries one of IoT Hub's own error codes
// (the six-digit numbers of the REST error body, whose first three digits are the
// HTTP status); each protocol front end turns it into its wire form at the edge.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace iothub {

// IoT Hub's error codes (learn.microsoft.com/rest/api/iothub/common-error-codes).
enum class ErrorCode {
  kInvalidProtocolVersion,    // 400001
  kArgumentInvalid,           // 400004
  kArgumentNull,              // 400005
  kIotHubFormatError,         // 400006
  kInvalidDeviceScope,        // 400028 (number inferred from the order of IoT Hub's ErrorCode list)
  kIotHubUnauthorizedAccess,  // 401002
  kIotHubQuotaExceeded,       // 403002
  kDeviceMaximumQueueDepthExceeded,  // 403004
  kDeviceNotFound,            // 404001
  kDeviceNotOnline,           // 404103
  kResourceNotFound,          // 404 on an unknown path
  kMethodNotAllowed,          // 405
  kDeviceAlreadyExists,       // 409001
  kPreconditionFailed,        // 412001
  kDeviceMessageLockLost,     // 412002: a C2D or feedback lock token that is unknown or expired
  kMessageTooLarge,           // 413001
  kServerError,               // 500001
  kServiceUnavailable,        // 503001
  kGatewayTimeout,            // 504101
};

// "DeviceNotFound", the name IoT Hub puts in `ErrorCode:<Name>` and `iothub-errorcode`.
const char* ErrorCodeName(ErrorCode code);
// 404001 and so on; the HTTP status is the first three digits.
int ErrorCodeNumber(ErrorCode code);

class Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message) : error_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status ArgumentInvalid(std::string m) { return {ErrorCode::kArgumentInvalid, std::move(m)}; }
  static Status FormatError(std::string m) { return {ErrorCode::kIotHubFormatError, std::move(m)}; }
  static Status Unauthorized(std::string m) { return {ErrorCode::kIotHubUnauthorizedAccess, std::move(m)}; }
  static Status DeviceNotFound(std::string m) { return {ErrorCode::kDeviceNotFound, std::move(m)}; }
  static Status DeviceAlreadyExists(std::string m) { return {ErrorCode::kDeviceAlreadyExists, std::move(m)}; }
  static Status PreconditionFailed(std::string m) { return {ErrorCode::kPreconditionFailed, std::move(m)}; }
  static Status LockLost(std::string m) { return {ErrorCode::kDeviceMessageLockLost, std::move(m)}; }
  static Status ServerError(std::string m) { return {ErrorCode::kServerError, std::move(m)}; }

  bool ok() const { return !error_.has_value(); }
  ErrorCode code() const { return *error_; }  // only when !ok()
  const std::string& message() const { return message_; }

 private:
  std::optional<ErrorCode> error_;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T* operator->() const { return &value(); }
  const T& operator*() const { return value(); }
  // The failure; OK when there is a value.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace iothub
