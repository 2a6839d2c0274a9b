// Devices' own links on one AMQP connection (azure-iot-device-amqp's Amqp and AmqpWs;
// spec Appendix A): /devices/{id}/messages/events, /messages/devicebound, /twin and
// /methods/devicebound. A link opens when a live claim covers its address with
// DeviceConnect — a $cbs put-token of the device's own token or of a policy's, or SASL
// PLAIN as {id}@sas.{hub} — and the device exists and is enabled. One connection may
// carry several devices: each has its AmqpDevice, made when its first link opens and
// ended when its last one closes. A link whose claim expires unrenewed is detached
// (amqp:unauthorized-access). Module addresses are refused until modules exist.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "amqp/amqp_device.h"
#include "amqp/hub_services.h"
#include "amqp/link_group.h"

namespace iothub::amqp {

class DeviceLinks final : public LinkGroup {
 public:
  // services.devices and services.device must be set.
  DeviceLinks(LinkContext context, const HubServices& services);
  ~DeviceLinks() override;  // the devices still connected here are so no longer

  bool OnLinkOpen(pn_link_t* link, const std::string& path) override;
  void OnMessage(pn_link_t* link, pn_delivery_t* delivery, std::string bytes) override;
  void OnCredit(pn_link_t* link) override;
  void OnOutcome(pn_link_t* link, pn_delivery_t* delivery) override;
  void OnLinkClosed(pn_link_t* link) override;
  void OnTick(TimePoint now) override;
  bool HasLinks() const override { return !links_.empty(); }

 private:
  // The device connected here, made (and made the device's one connection) if it is not yet.
  // Null after refusing the link.
  AmqpDevice* DeviceFor(pn_link_t* link, const std::string& device_id, const Principal& who);
  // Forgets the device and its links (it was ended).
  void Forget(const std::string& device_id);
  // Whether a live claim lets `path`'s link stay open for `device_id`.
  bool Allowed(const std::string& path, const std::string& device_id, TimePoint now) const;

  LinkContext context_;
  const DeviceAuthenticator& authenticator_;
  const DeviceServices& device_services_;
  std::map<std::string, std::shared_ptr<AmqpDevice>> devices_;  // by device id
  std::unordered_map<pn_link_t*, AmqpDevice*> links_;
};

}  // namespace iothub::amqp
