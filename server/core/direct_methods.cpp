#include "core/direct_methods.h"

#include <thread>

namespace iothub {

Result<MethodResult> DirectMethods::Invoke(const std::string& device_id, const MethodCall& call) {
  if (!registry_.Get(device_id).ok()) return Status::DeviceNotFound("Device '" + device_id + "' not found");

  std::string request_id;
  {
    std::lock_guard lock(mu_);
    request_id = std::to_string(next_id_++);
    pending_[request_id] = {device_id, std::nullopt};
  }
  // Wait for the device to be online and listening, up to connect_timeout (0: it must be now).
  auto connect_deadline = std::chrono::steady_clock::now() + call.connect_timeout;
  bool delivered = false;
  while (true) {
    delivered = connections_.SendMethodRequest(device_id, call.method_name, request_id, call.payload_json);
    if (delivered || std::chrono::steady_clock::now() >= connect_deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::unique_lock lock(mu_);
  if (!delivered) {
    pending_.erase(request_id);
    return Status(ErrorCode::kDeviceNotOnline,
                  "Timed out waiting for device '" + device_id + "' to connect and subscribe to methods");
  }
  bool answered = answered_.wait_for(lock, call.response_timeout, [&] { return pending_[request_id].result.has_value(); });
  Pending done = std::move(pending_[request_id]);
  pending_.erase(request_id);
  if (!answered) {
    return Status(ErrorCode::kGatewayTimeout, "Timed out waiting for the response from device '" + device_id +
                                                  "' to method '" + call.method_name + "'");
  }
  return *done.result;
}

void DirectMethods::Complete(const std::string& device_id, const std::string& request_id, int status,
                             std::string payload_json) {
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(request_id);
    if (it == pending_.end() || it->second.device_id != device_id || it->second.result) return;
    it->second.result = MethodResult{status, payload_json.empty() ? "null" : std::move(payload_json)};
  }
  answered_.notify_all();
}

}  // namespace iothub
