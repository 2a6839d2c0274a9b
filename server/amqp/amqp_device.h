// One device's links on one AMQP connection (a connection may carry several
// devices): the adapter between azure-iot-device-amqp's links (spec Appendix A)
// and the protocol-neutral device session of core, as MqttSession is for MQTT.
// Telemetry is accepted once stored; cloud-to-device messages go out as credit
// allows and the device's outcome settles them (accepted: complete, released or
// modified: abandon, rejected: reject); twin requests are answered on the twin
// link the device listens on; method requests go out once it listens for them.
// DeviceLinks makes one when the device's first link opens and ends it when its
// last link closes. Its work runs on the connection's strand; the
// DeviceConnections::Connection calls may come from any thread.
#pragma once

#include <proton/delivery.h>
#include <proton/link.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "amqp/amqp_connection.h"
#include "core/device_connections.h"
#include "core/device_session.h"

namespace iothub::amqp {

class AmqpDevice final : public DeviceConnections::Connection, public std::enable_shared_from_this<AmqpDevice> {
 public:
  enum class LinkKind {
    kTelemetry,       // we receive: /devices/{id}/messages/events
    kCloudToDevice,   // we send: /devices/{id}/messages/devicebound
    kTwinRequests,    // we receive: /devices/{id}/twin
    kTwinAnswers,     // we send: /devices/{id}/twin (answers and desired patches)
    kMethodRequests,  // we send: /devices/{id}/methods/devicebound
    kMethodAnswers,   // we receive: /devices/{id}/methods/devicebound
  };
  struct Link {
    LinkKind kind;
    uint64_t serial;       // tells a link from a later one at the same address
    std::string path;      // what its claim must cover
    std::string channel;   // com.microsoft:channel-correlation-id, pairing a twin link's two directions
    uint64_t next_tag = 0;
    std::deque<std::string> queue;  // messages waiting for credit
  };

  // on_ended: runs on the strand once the device was ended by Close (another connection took
  // over, or the device was deleted or disabled): its owner forgets it and its links.
  AmqpDevice(AmqpConnection& connection, const DeviceServices& services, ConnectionInfo info,
             std::function<void()> on_ended);
  ~AmqpDevice() override;

  // On the strand. Makes this the device's one connection (closing its connection elsewhere).
  Status Open();
  const std::string& device_id() const { return session_.device_id(); }
  // An opened link of the device's; it gives a receiver its first credit.
  void AddLink(pn_link_t* link, LinkKind kind, std::string path, std::string channel);
  void OnMessage(pn_link_t* link, pn_delivery_t* delivery, std::string bytes);
  void OnCredit(pn_link_t* link);
  void OnOutcome(pn_link_t* link, pn_delivery_t* delivery);
  // The link is gone: what waited on it goes back (cloud-to-device messages) or is dropped.
  void OnLinkClosed(pn_link_t* link);
  const std::map<pn_link_t*, Link>& links() const { return links_; }
  // The device is no longer connected here. Idempotent.
  void End();
  bool ended() const { return ended_; }

  // DeviceConnections::Connection, from any thread.
  void Close(std::string_view reason) override;
  bool SendMethodRequest(const std::string& method_name, const std::string& request_id,
                         const std::string& payload_json) override;
  void CloudToDeviceWaiting() override;
  void SendDesiredPropertiesPatch(int64_t version, const std::string& patch_json) override;

 private:
  // Runs `work` on the strand while the device is connected here.
  void Post(std::function<void(AmqpDevice&)> work);
  void HandleTelemetry(pn_link_t* link, pn_delivery_t* delivery, std::string bytes);
  void HandleTwinRequest(pn_link_t* link, std::string bytes);
  void HandleMethodAnswer(pn_delivery_t* delivery, std::string bytes);
  void DeliverCloudToDevice();
  // Queues `bytes` on the first open link of `kind` (preferring the twin channel `channel`), then sends what credit allows.
  void SendOn(LinkKind kind, std::string bytes, const std::string& channel = "");
  void Flush(pn_link_t* link, Link& l);
  bool Has(LinkKind kind) const;

  std::weak_ptr<AmqpConnection> connection_;
  DeviceSession session_;
  std::function<void()> on_ended_;
  std::map<pn_link_t*, Link> links_;
  struct InFlight {
    pn_link_t* link;
    std::string lock_token;
  };
  std::map<pn_delivery_t*, InFlight> cloud_to_device_;  // sent, awaiting the device's outcome
  bool more_cloud_to_device_ = true;  // the queue may hold messages a lease would return
  bool ended_ = false;
  std::atomic<bool> listens_for_methods_{false};
  uint64_t next_serial_ = 1;
};

}  // namespace iothub::amqp
