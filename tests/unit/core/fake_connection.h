// In-memory stand-ins for the unit tests of core: a device connection that
// records what the hub hands it, and timers that run only when a test says
// time has passed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/device_connections.h"
#include "core/timers.h"

namespace iothub::testing {

class FakeConnection : public DeviceConnections::Connection {
 public:
  struct MethodRequest {
    std::string method_name, request_id, payload_json;
  };

  explicit FakeConnection(bool listens_for_methods = true) : listens_for_methods(listens_for_methods) {}

  void Close(std::string_view reason) override {
    std::lock_guard lock(mu);
    closed.emplace_back(reason);
  }
  bool SendMethodRequest(const std::string& method_name, const std::string& request_id,
                         const std::string& payload_json) override {
    if (!listens_for_methods) return false;
    std::lock_guard lock(mu);
    method_requests.push_back({method_name, request_id, payload_json});
    return true;
  }
  void CloudToDeviceWaiting() override { ++cloud_to_device_waiting; }
  void SendDesiredPropertiesPatch(int64_t version, const std::string& patch_json) override {
    std::lock_guard lock(mu);
    patches.emplace_back(version, patch_json);
  }

  std::atomic<bool> listens_for_methods;
  std::atomic<int> cloud_to_device_waiting{0};
  std::mutex mu;
  std::vector<std::string> closed;                      // reasons, guarded by mu
  std::vector<MethodRequest> method_requests;           // guarded by mu
  std::vector<std::pair<int64_t, std::string>> patches;  // guarded by mu
};

// Timers on a clock of the test's own: nothing runs until Advance.
class ManualTimers : public Timers {
 public:
  Id After(Duration delay, std::function<void()> fn) override {
    const Id id = next_id_++;
    queue_[id] = {now_ + delay, std::move(fn)};
    return id;
  }
  bool Cancel(Id id) override { return queue_.erase(id) > 0; }

  // Moves the clock on, running each timer that comes due, in deadline order
  // (a callback may add or cancel timers).
  void Advance(Duration by) {
    const Duration until = now_ + by;
    while (true) {
      auto next = queue_.end();
      for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (it->second.first <= until && (next == queue_.end() || it->second.first < next->second.first)) next = it;
      }
      if (next == queue_.end()) break;
      now_ = next->second.first;
      auto fn = std::move(next->second.second);
      queue_.erase(next);
      fn();
    }
    now_ = until;
  }
  size_t Scheduled() const { return queue_.size(); }

 private:
  Duration now_{};
  Id next_id_ = 1;
  std::map<Id, std::pair<Duration, std::function<void()>>> queue_;
};

}  // namespace iothub::testing
