// Direct methods (spec §2.8, §4.2): a back end calls a method on a device and
// hears the device's answer. The call goes to the device's one connection, if
// it listens for methods; the answer comes back on that connection, matched by
// request id. No thread waits for a call: it ends through its callback, when
// the device answers, when a timer (one thread for all calls) says it is too
// late, or when DeviceConnections says the device it waits for is ready.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "core/device_connections.h"
#include "core/registry.h"
#include "core/status.h"
#include "core/timers.h"

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
  // Runs exactly once per call, on the thread that settles it (the caller's, a
  // device connection's, or the timer thread); it must not block.
  using Done = std::function<void(Result<MethodResult>)>;

  // timers: where the timeouts run; null for a TimerThread of its own. Given
  // timers must outlive this and stop running its callbacks when it is gone.
  // Registers with connections.OnMethodsReady, so it must be built before serving.
  DirectMethods(Registry& registry, DeviceConnections& connections, Timers* timers = nullptr);
  // Calls still open end with ServiceUnavailable.
  ~DirectMethods();
  DirectMethods(const DirectMethods&) = delete;
  DirectMethods& operator=(const DirectMethods&) = delete;

  // Sends the call to the device and ends with its answer, or with
  // DeviceNotFound (no such device), DeviceNotOnline (not connected and
  // listening for methods within connect_timeout), or GatewayTimeout (no answer
  // within response_timeout of the request reaching the device's connection).
  void Invoke(const std::string& device_id, const MethodCall& call, Done done);
  // A device's answer to request `request_id`; ignored unless that device has that call open.
  void Complete(const std::string& device_id, const std::string& request_id, int status, std::string payload_json);

  static constexpr std::chrono::seconds kMinResponseTimeout{5}, kMaxTimeout{300};

 private:
  struct Pending {
    std::string device_id;
    MethodCall call;
    Done done;
    bool sent = false;     // false: waiting for the device to connect and listen
    Timers::Id timer = 0;  // the connect or response timeout
  };

  // Tries to send the waiting call `request_id`; on success starts its response timeout. Caller holds mu_.
  bool TrySend(const std::string& request_id, Pending& pending);
  // The device connected or subscribed to methods: sends the calls waiting for it.
  void DeviceReady(const std::string& device_id);
  // The call's connect or response timeout fired: it ends with DeviceNotOnline or GatewayTimeout.
  void TimedOut(const std::string& request_id, bool connect_timeout);

  Registry& registry_;
  DeviceConnections& connections_;
  std::unique_ptr<TimerThread> own_timers_;  // when none were given
  Timers& timers_;
  std::mutex mu_;
  std::map<std::string, Pending> pending_;                             // by request id; guarded by mu_
  std::unordered_map<std::string, std::set<std::string>> waiting_;    // device -> unsent request ids; guarded by mu_
  uint64_t next_id_ = 1;                                               // guarded by mu_
};

}  // namespace iothub
