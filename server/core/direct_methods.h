// Direct methods (spec §2.8, §4.2): a back end calls a method on a device and
// waits for the device's answer. The call goes to the device's one connection,
// if it subscribed to methods; the answer comes back on that connection, matched
// by request id. Thread-safe; Invoke blocks its caller until answered or timed out.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/device_connections.h"
#include "core/registry.h"
#include "core/status.h"

namespace iothub {

struct MethodCall {
  std::string method_name;
  std::string payload_json = "null";  // never empty: the Node SDK JSON-parses whatever arrives
  std::chrono::seconds response_timeout{30};  // 5 to 300
  std::chrono::seconds connect_timeout{0};    // 0 to 300: how long to wait for the device to come online
};

struct MethodResult {
  int status = 0;            // chosen by the device
  std::string payload_json;  // what the device answered, "null" when it sent nothing
};

class DirectMethods {
 public:
  DirectMethods(Registry& registry, DeviceConnections& connections) : registry_(registry), connections_(connections) {}

  // DeviceNotFound (no such device), DeviceNotOnline (not connected or not
  // subscribed within connect_timeout), GatewayTimeout (no answer in time).
  Result<MethodResult> Invoke(const std::string& device_id, const MethodCall& call);
  // A device's answer to request `request_id`; ignored unless that device has that call open.
  void Complete(const std::string& device_id, const std::string& request_id, int status, std::string payload_json);

  static constexpr std::chrono::seconds kMinResponseTimeout{5}, kMaxTimeout{300};

 private:
  struct Pending {
    std::string device_id;
    std::optional<MethodResult> result;
  };

  Registry& registry_;
  DeviceConnections& connections_;
  std::mutex mu_;
  std::condition_variable answered_;
  std::map<std::string, Pending> pending_;  // by request id; guarded by mu_
  uint64_t next_id_ = 1;                    // guarded by mu_
};

}  // namespace iothub
