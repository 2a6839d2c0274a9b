// Which devices are connected now: one connection per device identity (a new
// one replaces the old, as IoT Hub does), the registry's connectionState and
// lastActivityTime, and the connected-device count. Presence lives in memory
// and is written to the store in the background, so connecting costs no disk
// write; at start every device is disconnected.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/device.h"
#include "core/device_store.h"

namespace iothub {

class DeviceConnections {
 public:
  // A protocol connection as the domain sees it. Close must be thread-safe and
  // may be called after the connection has ended.
  class Connection {
   public:
    virtual ~Connection() = default;
    virtual void Close(std::string_view reason) = 0;
    // Sends a direct-method request if the device subscribed to methods; false otherwise.
    virtual bool SendMethodRequest(const std::string& method_name, const std::string& request_id,
                                   const std::string& payload_json) = 0;
    // New cloud-to-device messages wait for the device: deliver them if it listens.
    virtual void CloudToDeviceWaiting() = 0;
    // A desired-properties patch (JSON with "$version") for the device, if it listens for them.
    virtual void SendDesiredPropertiesPatch(int64_t version, const std::string& patch_json) = 0;
  };

  explicit DeviceConnections(DeviceStore& store);
  ~DeviceConnections();  // writes what is pending

  // Makes `connection` the device's one connection and closes the one it replaces;
  // then tells the OnMethodsReady observers (the new connection may listen for methods).
  void Attach(const std::string& device_id, const std::shared_ptr<Connection>& connection);
  // Forgets `connection` if it is still the device's current one.
  void Detach(const std::string& device_id, const Connection* connection);
  // Closes the device's connection, if any (device deleted, disabled or its keys changed).
  void Disconnect(const std::string& device_id, std::string_view reason);
  void NoteActivity(const std::string& device_id);
  void NotifyCloudToDevice(const std::string& device_id);
  void SendDesiredPropertiesPatch(const std::string& device_id, int64_t version, const std::string& patch_json);
  // Hands a method request to the device's connection; false when it has none or it does not listen for methods.
  bool SendMethodRequest(const std::string& device_id, const std::string& method_name, const std::string& request_id,
                         const std::string& payload_json);
  // A protocol adapter says the device's connection now listens for methods
  // (it subscribed); tells the OnMethodsReady observers.
  void MethodsSubscribed(const std::string& device_id);
  // Called, outside any lock, with the device id each time a device connects or
  // subscribes to methods: a method call waiting for the device can try again.
  // Set up before serving; the observer must outlive the connections it hears of.
  void OnMethodsReady(std::function<void(const std::string& device_id)> observer) {
    methods_ready_.push_back(std::move(observer));
  }

  size_t ConnectedCount() const;
  // Fills a device's connectionState, connectionStateUpdatedTime and lastActivityTime.
  void Overlay(Device& device) const;
  // Writes pending presence to the store now.
  void Flush();

 private:
  struct Presence {
    std::weak_ptr<Connection> connection;
    bool connected = false;
    TimePoint state_time{};
    TimePoint last_activity{};
    bool dirty = false;
  };
  void FlushLoop();
  // The device's connection now, or null.
  std::shared_ptr<Connection> Current(const std::string& device_id) const;
  void TellMethodsReady(const std::string& device_id);

  DeviceStore& store_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Presence> presence_;  // guarded by mu_
  size_t connected_ = 0;                                // guarded by mu_
  bool stopping_ = false;                               // guarded by mu_
  std::condition_variable wake_;
  std::thread flusher_;
  std::vector<std::function<void(const std::string&)>> methods_ready_;  // set before serving, then read-only
};

}  // namespace iothub
