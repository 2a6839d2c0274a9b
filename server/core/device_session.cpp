#include "core/device_session.h"

#include "core/json_parse.h"

namespace iothub {
namespace {

// lastActivityTime need not be exact: noting it once a second keeps a busy device off the presence lock.
constexpr auto kActivityNoteInterval = std::chrono::seconds(1);

std::string ClientIdOf(const ConnectionInfo& c) {
  return c.module_id ? c.device.device_id + "/" + *c.module_id : c.device.device_id;
}

}  // namespace

DeviceSession::DeviceSession(const DeviceServices& services, ConnectionInfo connection, bool lasting)
    : services_(services), connection_(std::move(connection)), client_id_(ClientIdOf(connection_)),
      lasting_(lasting) {}

DeviceSession::~DeviceSession() {
  if (attached_) services_.connections.Detach(device_id(), attached_);
}

Result<bool> DeviceSession::Open(const std::shared_ptr<DeviceConnections::Connection>& connection) {
  bool found = false;
  try {
    if (lasting_) {
      subscriptions_ = services_.subscriptions.Load(client_id_);
      found = !subscriptions_.empty();
      listens_for_methods_ = Listens(Feed::kMethods);
    } else {
      services_.subscriptions.Save(client_id_, {});  // a clean session ends any lasting one
    }
  } catch (const std::exception& e) {
    return Status::ServerError(std::string("session store failed: ") + e.what());
  }
  attached_ = connection.get();
  services_.connections.Attach(device_id(), connection);
  return found;
}

void DeviceSession::End(Ending ending) {
  if (!attached_) return;
  services_.connections.Detach(device_id(), attached_);
  attached_ = nullptr;
  try {
    for (const std::string& token : leased_) services_.cloud_to_device.Release(device_id(), token);
  } catch (const std::exception&) {
    // Their locks run out within a minute, which returns them all the same.
  }
  leased_.clear();
  if (ending == Ending::kUnclean && will_) {
    will_->application_properties.emplace_back("iothub-MessageType", "Will");
    Append(std::move(*will_), [](const Status&) {});  // nobody is left to hear whether it was stored
  }
  will_.reset();
}

void DeviceSession::SendTelemetry(TelemetryMessage message, Committed committed) {
  Append(std::move(message), std::move(committed));
}

void DeviceSession::Append(TelemetryMessage message, Committed committed) {
  ++*in_flight_;
  services_.event_log.Append(MakeTelemetryEvent(connection_, std::move(message), "Telemetry"),
                             [in_flight = in_flight_, committed = std::move(committed)](const Status& status) {
                               --*in_flight;
                               committed(status);
                             });
  auto now = std::chrono::steady_clock::now();
  if (now - last_activity_noted_ > kActivityNoteInterval) {
    last_activity_noted_ = now;
    services_.connections.NoteActivity(device_id());
  }
}

TwinReply DeviceSession::GetTwin() {
  try {
    auto view = services_.twins.DeviceView(device_id());
    if (!view.ok()) return ErrorReply(view.status());
    return {200, view->dump(), std::nullopt};
  } catch (const std::exception& e) {
    return ErrorReply(Status::ServerError(e.what()));
  }
}

TwinReply DeviceSession::PatchReportedProperties(std::string_view patch_json) {
  try {
    auto patch = ParseJsonValue(patch_json, "The reported-properties patch");
    if (!patch.ok()) return ErrorReply(patch.status());
    auto version = services_.twins.PatchReported(device_id(), *patch);
    if (!version.ok()) return ErrorReply(version.status());
    return {204, "", *version};
  } catch (const std::exception& e) {
    return ErrorReply(Status::ServerError(e.what()));
  }
}

void DeviceSession::CompleteMethod(const std::string& request_id, int status, std::string payload_json) {
  services_.methods.Complete(device_id(), request_id, status, std::move(payload_json));
}

std::vector<CloudToDeviceDelivery> DeviceSession::LeaseCloudToDevice(size_t max) {
  if (!attached_ || !Listens(Feed::kCloudToDevice)) return {};
  // Those already on their way are locked, so the lease leaves them out.
  auto leases = services_.cloud_to_device.Lease(device_id(), max);
  for (const auto& d : leases) leased_.insert(d.lock_token);
  return leases;
}

Status DeviceSession::SettleCloudToDevice(const std::string& lock_token, Settlement settlement) {
  if (leased_.erase(lock_token) == 0) {
    return Status::LockLost("The lock token is not one of this connection's cloud-to-device messages");
  }
  switch (settlement) {
    case Settlement::kComplete:
      return services_.cloud_to_device.Complete(device_id(), lock_token);
    case Settlement::kAbandon:
      return services_.cloud_to_device.Abandon(device_id(), lock_token);
    case Settlement::kReject:
      return services_.cloud_to_device.Reject(device_id(), lock_token);
  }
  return Status::Ok();
}

void DeviceSession::ReleaseCloudToDevice(const std::string& lock_token) {
  if (leased_.erase(lock_token) > 0) services_.cloud_to_device.Release(device_id(), lock_token);
}

Status DeviceSession::Subscribe(const Subscriptions& feeds) {
  subscriptions_.insert(feeds.begin(), feeds.end());
  return SubscriptionsChanged();
}

Status DeviceSession::Unsubscribe(const Subscriptions& feeds) {
  for (Feed feed : feeds) subscriptions_.erase(feed);
  return SubscriptionsChanged();
}

Status DeviceSession::SubscriptionsChanged() {
  listens_for_methods_ = Listens(Feed::kMethods);
  // A method call waiting for this device to listen (its connect timeout) can go now.
  if (listens_for_methods_) services_.connections.MethodsSubscribed(device_id());
  if (!lasting_) return Status::Ok();
  try {
    services_.subscriptions.Save(client_id_, subscriptions_);  // a lasting session outlives this connection
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::ServerError(std::string("session store failed: ") + e.what());
  }
}

}  // namespace iothub
