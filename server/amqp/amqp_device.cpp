#include "amqp/amqp_device.h"

#include <proton/disposition.h>

#include <spdlog/spdlog.h>

#include "amqp/device_message.h"
#include "core/twin_reply.h"

namespace iothub::amqp {
namespace {

// Answers and requests a device may leave waiting for credit on one link before it loses the link.
constexpr size_t kMaxQueued = 100;
constexpr uint32_t kReceiverCredit = 100;
// IoT Hub's device-to-cloud limit, the whole message counted (MQTT's is the same).
constexpr size_t kMaxTelemetryBytes = 256 * 1024;

// The delivery tag of a cloud-to-device message: its lock token's 16 bytes, as IoT Hub tags them.
std::string LockTokenTag(const std::string& lock_token) {
  std::string tag;
  int half = -1;
  for (char c : lock_token) {
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else continue;
    if (half < 0) {
      half = v;
    } else {
      tag += static_cast<char>((half << 4) | v);
      half = -1;
    }
  }
  return tag.size() == 16 ? tag : lock_token;
}

// The AMQP error a failed store or a refused request is rejected with.
const char* ConditionOf(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kArgumentInvalid:
    case ErrorCode::kArgumentNull:
    case ErrorCode::kIotHubFormatError:
      return "com.microsoft:argument-error";
    case ErrorCode::kMessageTooLarge:
      return "amqp:link:message-size-exceeded";
    case ErrorCode::kIotHubQuotaExceeded:
      return "amqp:resource-limit-exceeded";
    case ErrorCode::kServiceUnavailable:
      return "com.microsoft:timeout";
    default:
      return "amqp:internal-error";
  }
}

}  // namespace

AmqpDevice::AmqpDevice(AmqpConnection& connection, const DeviceServices& services, ConnectionInfo info,
                       std::function<void()> on_ended)
    : connection_(connection.weak_from_this()), session_(services, std::move(info), /*lasting=*/false),
      on_ended_(std::move(on_ended)) {}

AmqpDevice::~AmqpDevice() = default;

Status AmqpDevice::Open() {
  auto opened = session_.Open(shared_from_this());
  return opened.ok() ? Status::Ok() : opened.status();
}

void AmqpDevice::Post(std::function<void(AmqpDevice&)> work) {
  auto connection = connection_.lock();
  if (!connection) return;
  connection->Post([self = shared_from_this(), work = std::move(work)] {
    if (!self->ended_) work(*self);
  });
}

bool AmqpDevice::Has(LinkKind kind) const {
  for (const auto& [link, l] : links_) {
    if (l.kind == kind) return true;
  }
  return false;
}

void AmqpDevice::AddLink(pn_link_t* link, LinkKind kind, std::string path, std::string channel) {
  links_[link] = Link{kind, next_serial_++, std::move(path), std::move(channel), 0, {}};
  if (pn_link_is_receiver(link)) pn_link_flow(link, kReceiverCredit);
  switch (kind) {
    case LinkKind::kCloudToDevice:
      (void)session_.Subscribe({Feed::kCloudToDevice});  // a clean session stores nothing that could fail
      more_cloud_to_device_ = true;
      DeliverCloudToDevice();
      break;
    case LinkKind::kMethodRequests:
      // Before Subscribe: it tells the method calls waiting for the device, which may call back at once.
      listens_for_methods_ = true;
      (void)session_.Subscribe({Feed::kMethods});
      break;
    default:
      break;
  }
}

void AmqpDevice::OnMessage(pn_link_t* link, pn_delivery_t* delivery, std::string bytes) {
  auto it = links_.find(link);
  if (it == links_.end()) return Accept(delivery);
  switch (it->second.kind) {
    case LinkKind::kTelemetry:
      return HandleTelemetry(link, delivery, std::move(bytes));
    case LinkKind::kTwinRequests:
      Accept(delivery);  // sent settled: the answer is the outcome
      return HandleTwinRequest(link, std::move(bytes));
    case LinkKind::kMethodAnswers:
      return HandleMethodAnswer(delivery, std::move(bytes));
    default:
      return Accept(delivery);
  }
}

void AmqpDevice::HandleTelemetry(pn_link_t* link, pn_delivery_t* delivery, std::string bytes) {
  if (bytes.size() > kMaxTelemetryBytes) {
    return RejectDelivery(delivery, "amqp:link:message-size-exceeded",
                          "A device-to-cloud message may hold at most " + std::to_string(kMaxTelemetryBytes) +
                              " bytes; this one has " + std::to_string(bytes.size()));
  }
  auto decoded = DecodeDeviceMessage(bytes);
  if (!decoded.ok()) {
    return RejectDelivery(delivery, decoded.status().code() == ErrorCode::kIotHubFormatError ? "amqp:decode-error"
                                                                                             : "com.microsoft:argument-error",
                          decoded.status().message());
  }
  // Accepted once durably stored, as IoT Hub acknowledges; the link may be gone by then.
  const uint64_t serial = links_[link].serial;
  session_.SendTelemetry(
      ToTelemetry(std::move(decoded).value()),
      [weak = weak_from_this(), link, serial, delivery](const Status& status) {
        auto self = weak.lock();
        if (!self) return;
        self->Post([link, serial, delivery, status](AmqpDevice& device) {
          auto it = device.links_.find(link);
          if (it == device.links_.end() || it->second.serial != serial) return;  // forgotten with its link
          if (status.ok()) return Accept(delivery);
          RejectDelivery(delivery, ConditionOf(status), "The message could not be stored: " + status.message());
        });
      });
}

void AmqpDevice::HandleTwinRequest(pn_link_t* link, std::string bytes) {
  auto decoded = DecodeDeviceMessage(bytes);
  if (!decoded.ok()) return;  // nothing to answer to: no correlation id could be read
  std::optional<AmqpId> correlation_id = decoded->correlation_id;
  auto request = ParseTwinRequest(std::move(decoded).value());
  TwinReply reply;
  if (!request.ok()) {
    reply = ErrorReply(request.status());
  } else {
    switch (request->operation) {
      case TwinRequest::Operation::kGet:
        reply = session_.GetTwin();
        break;
      case TwinRequest::Operation::kPatchReported:
        reply = session_.PatchReportedProperties(request->body);
        break;
      case TwinRequest::Operation::kSubscribeDesired:
      case TwinRequest::Operation::kUnsubscribeDesired: {
        const bool subscribe = request->operation == TwinRequest::Operation::kSubscribeDesired;
        Status s = subscribe ? session_.Subscribe({Feed::kDesiredProperties})
                             : session_.Unsubscribe({Feed::kDesiredProperties});
        reply = s.ok() ? TwinReply{200, "", std::nullopt} : ErrorReply(s);
        break;
      }
    }
  }
  SendOn(LinkKind::kTwinAnswers, EncodeTwinAnswer(correlation_id, reply.status, reply.version, reply.body),
         links_[link].channel);
}

void AmqpDevice::HandleMethodAnswer(pn_delivery_t* delivery, std::string bytes) {
  auto decoded = DecodeDeviceMessage(bytes);
  if (!decoded.ok()) return RejectDelivery(delivery, "amqp:decode-error", decoded.status().message());
  auto answer = ParseMethodAnswer(std::move(decoded).value());
  if (!answer.ok()) return RejectDelivery(delivery, "com.microsoft:argument-error", answer.status().message());
  session_.CompleteMethod(answer->request_id, answer->status, std::move(answer->payload));
  Accept(delivery);
}

void AmqpDevice::OnCredit(pn_link_t* link) {
  auto it = links_.find(link);
  if (it == links_.end()) return;
  if (it->second.kind == LinkKind::kCloudToDevice) return DeliverCloudToDevice();
  Flush(link, it->second);
}

void AmqpDevice::DeliverCloudToDevice() {
  // A lease costs a store query: only when a message may wait and the device can take one.
  if (!more_cloud_to_device_) return;
  for (auto& [link, l] : links_) {
    if (l.kind != LinkKind::kCloudToDevice) continue;
    const int credit = pn_link_credit(link);
    if (credit <= 0) continue;
    std::vector<CloudToDeviceDelivery> leases;
    try {
      leases = session_.LeaseCloudToDevice(static_cast<size_t>(credit));
    } catch (const std::exception& e) {
      spdlog::error("AMQP device {}: leasing its cloud-to-device messages failed: {}", device_id(), e.what());
      return;
    }
    if (leases.size() < static_cast<size_t>(credit)) more_cloud_to_device_ = false;
    for (const CloudToDeviceDelivery& d : leases) {
      spdlog::debug("AMQP device {}: cloud-to-device {} ({}) sent", device_id(), d.lock_token, d.message.properties.message_id.value_or(""));
      const std::string tag = LockTokenTag(d.lock_token);
      pn_delivery_t* delivery = pn_delivery(link, pn_dtag(tag.data(), tag.size()));
      const std::string bytes = EncodeCloudToDevice(d.message);
      pn_link_send(link, bytes.data(), bytes.size());
      pn_link_advance(link);
      cloud_to_device_[delivery] = InFlight{link, d.lock_token};
    }
    return;  // one link takes them; a second one of the device's gets what the first cannot
  }
}

void AmqpDevice::OnOutcome(pn_link_t* link, pn_delivery_t* delivery) {
  auto it = cloud_to_device_.find(delivery);
  if (it == cloud_to_device_.end()) {
    pn_delivery_settle(delivery);  // answers, requests, patches: nothing to track
    return;
  }
  const std::string lock_token = it->second.lock_token;
  const uint64_t state = pn_delivery_remote_state(delivery);
  if (state == 0 && !pn_delivery_settled(delivery)) return;  // no outcome yet
  cloud_to_device_.erase(it);
  pn_delivery_settle(delivery);
  spdlog::debug("AMQP device {}: cloud-to-device {} outcome {:#x}", device_id(), lock_token, state);
  Status settled = Status::Ok();
  try {
    switch (state) {
      case PN_ACCEPTED:
        settled = session_.SettleCloudToDevice(lock_token, DeviceSession::Settlement::kComplete);
        break;
      case PN_REJECTED:
        settled = session_.SettleCloudToDevice(lock_token, DeviceSession::Settlement::kReject);
        break;
      case PN_RELEASED:
      case PN_MODIFIED:
        settled = session_.SettleCloudToDevice(lock_token, DeviceSession::Settlement::kAbandon);
        more_cloud_to_device_ = true;  // it waits again
        break;
      default:  // settled without an outcome: back to the queue, not counted
        session_.ReleaseCloudToDevice(lock_token);
        more_cloud_to_device_ = true;
        break;
    }
  } catch (const std::exception& e) {
    settled = Status::ServerError(e.what());
  }
  // Past its lock (a minute) the verdict is lost, as on IoT Hub: the message comes again.
  if (!settled.ok()) spdlog::info("AMQP device {}: cloud-to-device outcome not applied: {}", device_id(), settled.message());
  if (links_.count(link)) DeliverCloudToDevice();
}

void AmqpDevice::SendOn(LinkKind kind, std::string bytes, const std::string& channel) {
  pn_link_t* chosen = nullptr;
  for (auto& [link, l] : links_) {
    if (l.kind != kind) continue;
    if (!chosen || (!channel.empty() && l.channel == channel)) chosen = link;
  }
  if (!chosen) return;  // nobody listens
  Link& l = links_[chosen];
  if (l.queue.size() >= kMaxQueued) {
    links_.erase(chosen);
    return CloseLink(chosen, "amqp:resource-limit-exceeded",
                     "More than " + std::to_string(kMaxQueued) + " messages wait for credit on this link");
  }
  l.queue.push_back(std::move(bytes));
  Flush(chosen, l);
}

void AmqpDevice::Flush(pn_link_t* link, Link& l) {
  while (!l.queue.empty() && pn_link_credit(link) > 0) {
    SendMessage(link, l.queue.front(), l.next_tag);
    l.queue.pop_front();
  }
}

void AmqpDevice::OnLinkClosed(pn_link_t* link) {
  auto it = links_.find(link);
  if (it == links_.end()) return;
  const LinkKind kind = it->second.kind;
  links_.erase(it);
  // The messages it carried and the device did not settle go back to the queue at once.
  for (auto d = cloud_to_device_.begin(); d != cloud_to_device_.end();) {
    if (d->second.link != link) {
      ++d;
      continue;
    }
    try {
      session_.ReleaseCloudToDevice(d->second.lock_token);
    } catch (const std::exception&) {
      // Its lock runs out within a minute, which returns it all the same.
    }
    d = cloud_to_device_.erase(d);
  }
  if (ended_ || Has(kind)) return;
  if (kind == LinkKind::kCloudToDevice) (void)session_.Unsubscribe({Feed::kCloudToDevice});
  if (kind == LinkKind::kMethodRequests) {
    listens_for_methods_ = false;
    (void)session_.Unsubscribe({Feed::kMethods});
  }
  if (kind == LinkKind::kTwinAnswers) (void)session_.Unsubscribe({Feed::kDesiredProperties});
}

void AmqpDevice::End() {
  if (ended_) return;
  ended_ = true;
  listens_for_methods_ = false;
  cloud_to_device_.clear();  // End gives them back
  session_.End(DeviceSession::Ending::kClean);
}

void AmqpDevice::Close(std::string_view reason) {
  Post([reason = std::string(reason)](AmqpDevice& device) {
    spdlog::info("AMQP device {} disconnected: {}", device.device_id(), reason);
    auto links = std::move(device.links_);
    device.links_.clear();
    device.End();
    for (auto& [link, l] : links) CloseLink(link, "amqp:link:detach-forced", reason);
    if (device.on_ended_) device.on_ended_();
  });
}

bool AmqpDevice::SendMethodRequest(const std::string& method_name, const std::string& request_id,
                                   const std::string& payload_json) {
  if (!listens_for_methods_) return false;
  Post([bytes = EncodeMethodRequest(method_name, request_id, payload_json)](AmqpDevice& device) mutable {
    device.SendOn(LinkKind::kMethodRequests, std::move(bytes));
  });
  return true;
}

void AmqpDevice::CloudToDeviceWaiting() {
  Post([](AmqpDevice& device) {
    device.more_cloud_to_device_ = true;
    device.DeliverCloudToDevice();
  });
}

void AmqpDevice::SendDesiredPropertiesPatch(int64_t version, const std::string& patch_json) {
  Post([bytes = EncodeDesiredPatch(version, patch_json)](AmqpDevice& device) mutable {
    // Only while it listens, as IoT Hub (spec §2.7): a device GETs the twin after reconnecting.
    if (device.session_.Listens(Feed::kDesiredProperties)) device.SendOn(LinkKind::kTwinAnswers, std::move(bytes));
  });
}

}  // namespace iothub::amqp
