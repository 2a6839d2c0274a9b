#include "core/device_connections.h"

#include <vector>

namespace iothub {

DeviceConnections::DeviceConnections(DeviceStore& store) : store_(store) {
  store_.ResetPresence();  // nothing is connected before the listeners start
  flusher_ = std::thread([this] { FlushLoop(); });
}

DeviceConnections::~DeviceConnections() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [id, p] : presence_) {
      if (p.connected) {
        p.connected = false;
        p.state_time = Clock::now();
        p.dirty = true;
      }
    }
  }
  wake_.notify_all();
  flusher_.join();
  Flush();
}

void DeviceConnections::Attach(const std::string& device_id, const std::shared_ptr<Connection>& connection) {
  std::shared_ptr<Connection> replaced;
  {
    std::lock_guard lock(mu_);
    Presence& p = presence_[device_id];
    replaced = p.connection.lock();
    if (!p.connected) ++connected_;
    p.connection = connection;
    p.connected = true;
    p.state_time = p.last_activity = Clock::now();
    p.dirty = true;
  }
  if (replaced && replaced != connection) replaced->Close("a new connection for the same device replaced it");
  TellMethodsReady(device_id);
}

void DeviceConnections::Detach(const std::string& device_id, const Connection* connection) {
  std::lock_guard lock(mu_);
  auto it = presence_.find(device_id);
  if (it == presence_.end() || !it->second.connected) return;
  auto current = it->second.connection.lock();
  if (current && current.get() != connection) return;  // already replaced
  it->second.connection.reset();
  it->second.connected = false;
  it->second.state_time = Clock::now();
  it->second.dirty = true;
  --connected_;
}

std::shared_ptr<DeviceConnections::Connection> DeviceConnections::Current(const std::string& device_id) const {
  std::lock_guard lock(mu_);
  auto it = presence_.find(device_id);
  return it == presence_.end() ? nullptr : it->second.connection.lock();
}

void DeviceConnections::TellMethodsReady(const std::string& device_id) {
  for (const auto& observer : methods_ready_) observer(device_id);
}

void DeviceConnections::Disconnect(const std::string& device_id, std::string_view reason) {
  if (auto current = Current(device_id)) current->Close(reason);
}

bool DeviceConnections::SendMethodRequest(const std::string& device_id, const std::string& method_name,
                                          const std::string& request_id, const std::string& payload_json) {
  auto current = Current(device_id);
  return current && current->SendMethodRequest(method_name, request_id, payload_json);
}

void DeviceConnections::MethodsSubscribed(const std::string& device_id) { TellMethodsReady(device_id); }

void DeviceConnections::NotifyCloudToDevice(const std::string& device_id) {
  if (auto current = Current(device_id)) current->CloudToDeviceWaiting();
}

void DeviceConnections::SendDesiredPropertiesPatch(const std::string& device_id, int64_t version,
                                                   const std::string& patch_json) {
  if (auto current = Current(device_id)) current->SendDesiredPropertiesPatch(version, patch_json);
}

void DeviceConnections::NoteActivity(const std::string& device_id) {
  std::lock_guard lock(mu_);
  Presence& p = presence_[device_id];
  p.last_activity = Clock::now();
  p.dirty = true;
}

size_t DeviceConnections::ConnectedCount() const {
  std::lock_guard lock(mu_);
  return connected_;
}

void DeviceConnections::Overlay(Device& device) const {
  std::lock_guard lock(mu_);
  auto it = presence_.find(device.device_id);
  if (it == presence_.end()) return;
  device.connected = it->second.connected;
  device.connection_state_updated_time = it->second.state_time;
  device.last_activity_time = it->second.last_activity;
}

void DeviceConnections::Flush() {
  std::vector<std::pair<std::string, Presence>> dirty;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, p] : presence_) {
      if (p.dirty) {
        dirty.emplace_back(id, p);
        p.dirty = false;
      }
    }
  }
  if (dirty.empty()) return;
  store_.InTransaction([&] {
    for (const auto& [id, p] : dirty) store_.UpdatePresence(id, p.connected, p.state_time, p.last_activity);
  });
}

void DeviceConnections::FlushLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(2), [this] { return stopping_; });
    lock.unlock();
    try {
      Flush();
    } catch (const std::exception&) {
      // Presence is advisory; the next round retries.
    }
    lock.lock();
  }
}

}  // namespace iothub
