#include "amqp/device_links.h"

#include <proton/codec.h>

#include <spdlog/spdlog.h>

#include <optional>
#include <vector>

#include "core/device_authenticator.h"

namespace iothub::amqp {
namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// com.microsoft:channel-correlation-id in a link's properties ("twin:{uuid}", "methods:{uuid}"), or "".
std::string ChannelOf(pn_link_t* link) {
  pn_data_t* p = pn_link_remote_properties(link);
  if (!p) return "";
  pn_data_rewind(p);
  if (!pn_data_next(p) || pn_data_type(p) != PN_MAP) return "";
  const size_t entries = pn_data_get_map(p) / 2;
  pn_data_enter(p);
  std::string channel;
  for (size_t i = 0; i < entries; ++i) {
    if (!pn_data_next(p)) break;
    const bool ours = pn_data_type(p) == PN_SYMBOL &&
                      std::string_view(pn_data_get_symbol(p).start, pn_data_get_symbol(p).size) ==
                          "com.microsoft:channel-correlation-id";
    if (!pn_data_next(p)) break;
    if (ours && pn_data_type(p) == PN_STRING) channel.assign(pn_data_get_string(p).start, pn_data_get_string(p).size);
  }
  pn_data_exit(p);
  return channel;
}

}  // namespace

DeviceLinks::DeviceLinks(LinkContext context, const HubServices& services)
    : context_(context), authenticator_(*services.devices), device_services_(*services.device) {}

DeviceLinks::~DeviceLinks() {
  for (auto& [id, device] : devices_) device->End();
}

bool DeviceLinks::OnLinkOpen(pn_link_t* link, const std::string& path) {
  const auto segments = Segments(path);
  if (segments.size() < 3 || segments[0] != "devices" || segments[1].empty()) return false;
  const std::string device_id(segments[1]);
  if (segments[2] == "modules") {
    RefuseLink(link, "amqp:not-implemented",
               "Module identities are not supported by the emulator yet: '" + LinkAddress(link) +
                   "' is a module's address; connect as the device");
    return true;
  }
  const std::string rest = path.substr(std::string_view("devices/").size() + device_id.size() + 1);
  const bool we_receive = pn_link_is_receiver(link);
  std::optional<AmqpDevice::LinkKind> kind;
  if (rest == "messages/events") {
    if (we_receive) kind = AmqpDevice::LinkKind::kTelemetry;
  } else if (rest == "messages/devicebound") {
    if (!we_receive) kind = AmqpDevice::LinkKind::kCloudToDevice;
  } else if (rest == "twin") {
    kind = we_receive ? AmqpDevice::LinkKind::kTwinRequests : AmqpDevice::LinkKind::kTwinAnswers;
  } else if (rest == "methods/devicebound") {
    kind = we_receive ? AmqpDevice::LinkKind::kMethodAnswers : AmqpDevice::LinkKind::kMethodRequests;
  } else {
    RefuseLink(link, "amqp:not-found", "The messaging entity '" + LinkAddress(link) + "' could not be found");
    return true;
  }
  if (!kind) {
    RefuseLink(link, "amqp:not-allowed",
               we_receive ? "A device receives its cloud-to-device messages from '" + LinkAddress(link) + "'"
                          : "A device sends its telemetry to '" + LinkAddress(link) + "'");
    return true;
  }

  const auto who = context_.claims.Covering(path, kDeviceConnect, Clock::now());
  if (!who || (who->kind == Principal::Kind::kDevice && who->name != device_id)) {
    RefuseLink(link, "amqp:unauthorized-access",
               "Put a token for {host}/devices/" + device_id +
                   " (the device's own, or a policy's with DeviceConnect) on $cbs, or sign in with SASL PLAIN as " +
                   device_id + "@sas.{hub}, before opening '" + LinkAddress(link) + "'");
    return true;
  }
  AmqpDevice* device = DeviceFor(link, device_id, *who);
  if (!device) return true;
  OpenLink(link);
  links_[link] = device;
  device->AddLink(link, *kind, path, ChannelOf(link));
  return true;
}

AmqpDevice* DeviceLinks::DeviceFor(pn_link_t* link, const std::string& device_id, const Principal& who) {
  if (auto it = devices_.find(device_id); it != devices_.end()) return it->second.get();
  auto admitted = authenticator_.Admit(device_id, who);
  if (!admitted.ok()) {
    RefuseLink(link, "amqp:unauthorized-access", admitted.status().message());
    return nullptr;
  }
  auto device = std::make_shared<AmqpDevice>(context_.connection, device_services_,
                                             ConnectionInfo{std::move(admitted).value(), std::nullopt, std::nullopt},
                                             [this, device_id] { Forget(device_id); });
  // Attaching ends the device's connection elsewhere, of whatever protocol.
  if (Status opened = device->Open(); !opened.ok()) {
    RefuseLink(link, "amqp:internal-error", opened.message());
    device->End();
    return nullptr;
  }
  spdlog::info("AMQP device {} connected", device_id);
  return devices_.emplace(device_id, std::move(device)).first->second.get();
}

void DeviceLinks::Forget(const std::string& device_id) {
  auto it = devices_.find(device_id);
  if (it == devices_.end()) return;
  AmqpDevice* device = it->second.get();
  std::erase_if(links_, [device](const auto& entry) { return entry.second == device; });
  devices_.erase(it);  // posted work holds its own reference
}

void DeviceLinks::OnMessage(pn_link_t* link, pn_delivery_t* delivery, std::string bytes) {
  auto it = links_.find(link);
  if (it == links_.end()) return Accept(delivery);
  it->second->OnMessage(link, delivery, std::move(bytes));
}

void DeviceLinks::OnCredit(pn_link_t* link) {
  if (auto it = links_.find(link); it != links_.end()) it->second->OnCredit(link);
}

void DeviceLinks::OnOutcome(pn_link_t* link, pn_delivery_t* delivery) {
  auto it = links_.find(link);
  if (it == links_.end()) return pn_delivery_settle(delivery);
  it->second->OnOutcome(link, delivery);
}

void DeviceLinks::OnLinkClosed(pn_link_t* link) {
  auto it = links_.find(link);
  if (it == links_.end()) return;
  AmqpDevice* device = it->second;
  links_.erase(it);
  device->OnLinkClosed(link);
  if (!device->links().empty()) return;
  // Its last link is gone: the device is no longer connected (until it opens another).
  const std::string device_id = device->device_id();
  spdlog::info("AMQP device {} disconnected: its links are closed", device_id);
  device->End();
  Forget(device_id);
}

bool DeviceLinks::Allowed(const std::string& path, const std::string& device_id, TimePoint now) const {
  auto who = context_.claims.Covering(path, kDeviceConnect, now);
  return who && !(who->kind == Principal::Kind::kDevice && who->name != device_id);
}

void DeviceLinks::OnTick(TimePoint now) {
  std::vector<pn_link_t*> expired;
  for (const auto& [id, device] : devices_) {
    for (const auto& [link, l] : device->links()) {
      if (!Allowed(l.path, id, now)) expired.push_back(link);
    }
  }
  for (pn_link_t* link : expired) {
    // OnLinkClosed first: the device forgets the link (and ends, when it was its last) before it is detached.
    OnLinkClosed(link);
    CloseLink(link, "amqp:unauthorized-access",
              "The SAS token for this device expired and was not renewed on $cbs");
  }
}

}  // namespace iothub::amqp
