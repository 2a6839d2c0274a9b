#include "core/direct_methods.h"

#include <vector>

namespace iothub {

DirectMethods::DirectMethods(Registry& registry, DeviceConnections& connections, Timers* timers)
    : registry_(registry),
      connections_(connections),
      own_timers_(timers ? nullptr : std::make_unique<TimerThread>()),
      timers_(timers ? *timers : *own_timers_) {
  connections_.OnMethodsReady([this](const std::string& device_id) { DeviceReady(device_id); });
}

DirectMethods::~DirectMethods() {
  const bool own = own_timers_ != nullptr;
  own_timers_.reset();  // joins our timer thread: no timeout runs from here on
  std::map<std::string, Pending> open;
  {
    std::lock_guard lock(mu_);
    open.swap(pending_);
    waiting_.clear();
  }
  for (auto& [id, p] : open) {
    if (!own) timers_.Cancel(p.timer);
    p.done(Status(ErrorCode::kServiceUnavailable, "The hub is shutting down"));
  }
}

bool DirectMethods::TrySend(const std::string& request_id, Pending& p) {
  if (!connections_.SendMethodRequest(p.device_id, p.call.method_name, request_id, p.call.payload_json)) return false;
  p.sent = true;
  p.timer = timers_.After(p.call.response_timeout, [this, request_id] { TimedOut(request_id, false); });
  return true;
}

void DirectMethods::Invoke(const std::string& device_id, const MethodCall& call, Done done) {
  if (!registry_.Get(device_id).ok()) return done(Status::DeviceNotFound("Device '" + device_id + "' not found"));
  std::unique_lock lock(mu_);
  const std::string request_id = std::to_string(next_id_++);
  Pending& p = pending_[request_id];
  p.device_id = device_id;
  p.call = call;
  p.done = std::move(done);
  // Registered before the first try, so a device that gets ready meanwhile finds the call (DeviceReady waits for mu_).
  if (TrySend(request_id, p)) return;
  if (call.connect_timeout.count() <= 0) {
    Done fail = std::move(p.done);
    pending_.erase(request_id);
    lock.unlock();
    return fail(Status(ErrorCode::kDeviceNotOnline,
                       "Device '" + device_id + "' is not online or does not listen for method calls"));
  }
  waiting_[device_id].insert(request_id);
  p.timer = timers_.After(call.connect_timeout, [this, request_id] { TimedOut(request_id, true); });
}

void DirectMethods::DeviceReady(const std::string& device_id) {
  std::lock_guard lock(mu_);
  auto waiting = waiting_.find(device_id);
  if (waiting == waiting_.end()) return;
  std::set<std::string>& ids = waiting->second;
  for (auto id = ids.begin(); id != ids.end();) {
    auto p = pending_.find(*id);
    if (p == pending_.end()) {
      id = ids.erase(id);
      continue;
    }
    // Its connect timeout may be firing right now; then TimedOut finds it sent and leaves it to its response timeout.
    const Timers::Id connect_timer = p->second.timer;
    if (!TrySend(*id, p->second)) break;  // the device still does not listen: the others would fail too
    timers_.Cancel(connect_timer);
    id = ids.erase(id);
  }
  if (ids.empty()) waiting_.erase(waiting);
}

void DirectMethods::TimedOut(const std::string& request_id, bool connect_timeout) {
  Done done;
  Status why;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(request_id);
    if (it == pending_.end()) return;
    Pending& p = it->second;
    if (p.sent) {
      if (connect_timeout) return;  // it lost the race with DeviceReady: the response timeout runs now
      why = Status(ErrorCode::kGatewayTimeout, "Timed out waiting for the response from device '" + p.device_id +
                                                   "' to method '" + p.call.method_name + "'");
    } else {
      why = Status(ErrorCode::kDeviceNotOnline,
                   "Timed out waiting for device '" + p.device_id + "' to connect and subscribe to methods");
      auto waiting = waiting_.find(p.device_id);
      if (waiting != waiting_.end()) {
        waiting->second.erase(request_id);
        if (waiting->second.empty()) waiting_.erase(waiting);
      }
    }
    done = std::move(p.done);
    pending_.erase(it);
  }
  done(std::move(why));
}

void DirectMethods::Complete(const std::string& device_id, const std::string& request_id, int status,
                             std::string payload_json) {
  Done done;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(request_id);
    if (it == pending_.end() || it->second.device_id != device_id || !it->second.sent) return;
    timers_.Cancel(it->second.timer);
    done = std::move(it->second.done);
    pending_.erase(it);
  }
  done(MethodResult{status, payload_json.empty() ? "null" : std::move(payload_json)});
}

}  // namespace iothub
