// A signed-in device's connection as IoT Hub sees it, whatever the protocol:
// presence (one connection per device; a new one, of any protocol, ends the
// old), telemetry into the event log, the will, the device's own twin requests,
// method answers, cloud-to-device deliveries and the feeds it listens to. A protocol adapter owns one per
// connection from sign-in on, parses its wire format into these calls and
// implements DeviceConnections::Connection for what the hub sends back.
// Not thread-safe: one owner (the connection's strand) at a time, except where a
// call says otherwise.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/cloud_to_device.h"
#include "core/device_connections.h"
#include "core/device_subscriptions.h"
#include "core/direct_methods.h"
#include "core/event_log.h"
#include "core/telemetry.h"
#include "core/twin_reply.h"
#include "core/twins.h"

namespace iothub {

// The hub's services a device session works with; they outlive every session.
struct DeviceServices {
  DeviceConnections& connections;
  EventLog& event_log;
  SubscriptionStore& subscriptions;
  DirectMethods& methods;
  Twins& twins;
  CloudToDevice& cloud_to_device;
};

class DeviceSession {
 public:
  // Runs once the event is durably stored (OK) or could not be (the failure), on the event log's writer thread.
  using Committed = std::function<void(const Status&)>;
  enum class Ending {
    kClean,    // the device said goodbye (MQTT DISCONNECT), or the hub dropped it without its will
    kUnclean,  // anything else (network, timeout, takeover, protocol error): its will, if any, is stored
  };

  // lasting: the device asked its subscriptions to outlive this connection (MQTT CleanSession=0).
  // services must outlive the session.
  DeviceSession(const DeviceServices& services, ConnectionInfo connection, bool lasting);
  // Forgets the connection as the device's current one if End was not called (no will).
  ~DeviceSession();
  DeviceSession(const DeviceSession&) = delete;
  DeviceSession& operator=(const DeviceSession&) = delete;

  const ConnectionInfo& connection() const { return connection_; }
  const std::string& device_id() const { return connection_.device.device_id; }
  // What a lasting session is kept under: "{deviceId}" or "{deviceId}/{moduleId}".
  const std::string& client_id() const { return client_id_; }

  // Restores the lasting session's subscriptions (or forgets any stored one for a clean session),
  // then makes `connection` the device's one connection, closing the one it replaces.
  // Returns whether a lasting session with subscriptions was found; ServerError when the store fails.
  Result<bool> Open(const std::shared_ptr<DeviceConnections::Connection>& connection);
  // The device is no longer connected through this session. Idempotent; the will goes once.
  void End(Ending ending);

  // Telemetry: stored as an event of this connection. in_flight() counts appends not yet
  // committed (thread-safe), so that a connection can stop reading while the log catches up.
  void SendTelemetry(TelemetryMessage message, Committed committed);
  size_t in_flight() const { return *in_flight_; }
  // Telemetry to store, marked as a Will message (application property
  // iothub-MessageType=Will, spec §2.2), if the connection ends kUnclean.
  void SetWill(TelemetryMessage message) { will_ = std::make_unique<TelemetryMessage>(std::move(message)); }

  // The device's twin requests: its view of the twin (200), a reported-properties patch (204 and the new version).
  TwinReply GetTwin();
  TwinReply PatchReportedProperties(std::string_view patch_json);

  // The device's answer to direct method request `request_id`.
  void CompleteMethod(const std::string& request_id, int status, std::string payload_json);
  // Whether the device listens for method requests. Thread-safe.
  bool listens_for_methods() const { return listens_for_methods_; }

  // Cloud-to-device: the device's waiting messages not already on their way, each leased
  // to this connection under a lock token until the device settles it. None unless it
  // listens for them. Whatever is unsettled when the session ends goes back to the queue
  // at once, the delivery not counted (the device had no way to settle it).
  std::vector<CloudToDeviceDelivery> LeaseCloudToDevice(size_t max = CloudToDevice::kMaxQueueDepth);
  // The device's verdict: complete (gone), abandon (again later) or reject (dead-lettered);
  // DeviceMessageLockLost when the lock ran out or the token is not this session's.
  enum class Settlement { kComplete, kAbandon, kReject };
  Status SettleCloudToDevice(const std::string& lock_token, Settlement settlement);
  // Gives a leased message back without a verdict (it could not be sent).
  void ReleaseCloudToDevice(const std::string& lock_token);

  const Subscriptions& subscriptions() const { return subscriptions_; }
  bool Listens(Feed feed) const { return subscriptions_.count(feed) > 0; }
  // Starts or stops feeds; a lasting session stores the result. ServerError when the store fails
  // (the change holds for this connection all the same).
  Status Subscribe(const Subscriptions& feeds);
  Status Unsubscribe(const Subscriptions& feeds);

 private:
  Status SubscriptionsChanged();
  void Append(TelemetryMessage message, Committed committed);

  const DeviceServices& services_;
  const ConnectionInfo connection_;
  const std::string client_id_;
  const bool lasting_;
  const DeviceConnections::Connection* attached_ = nullptr;  // from Open to End
  std::unique_ptr<TelemetryMessage> will_;  // on the heap: most devices leave none
  Subscriptions subscriptions_;
  std::set<std::string> leased_;  // lock tokens of cloud-to-device messages on their way
  std::atomic<bool> listens_for_methods_{false};
  // Shared with the log's callbacks, which may run after the session is gone.
  std::shared_ptr<std::atomic<size_t>> in_flight_ = std::make_shared<std::atomic<size_t>>(0);
  std::chrono::steady_clock::time_point last_activity_noted_{};
};

}  // namespace iothub
