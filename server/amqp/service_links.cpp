#include "amqp/service_links.h"

#include <proton/delivery.h>
#include <proton/disposition.h>

#include <algorithm>
#include <cctype>
#include <exception>

#include "amqp/service_message.h"
#include "core/access_policy.h"
#include "core/cloud_to_device.h"
#include "core/cloud_to_device_feedback.h"
#include "core/crypto.h"

namespace iothub::amqp {
namespace {

bool StartsWithSegment(std::string_view path, std::string_view segment) {
  return path.size() >= segment.size() && SameName(path.substr(0, segment.size()), segment) &&
         (path.size() == segment.size() || path[segment.size()] == '/');
}

// The conditions azure-iothub maps (amqp_service_errors.js, amqp_common_errors.js).
const char* ConditionOf(const Status& s) {
  switch (s.code()) {
    case ErrorCode::kDeviceNotFound: return "amqp:not-found";                                  // DeviceNotFoundError
    case ErrorCode::kDeviceMaximumQueueDepthExceeded: return "amqp:resource-limit-exceeded";  // ...QueueDepthExceededError
    case ErrorCode::kArgumentInvalid: return "com.microsoft:argument-error";                 // ArgumentError
    case ErrorCode::kIotHubUnauthorizedAccess: return "amqp:unauthorized-access";            // UnauthorizedError
    default: return "amqp:internal-error";                                                   // InternalServerError
  }
}

// A lock token (a uuid's text) as the 16 bytes of a .NET Guid, the delivery tag IoT Hub's
// service SDKs read a feedback batch's lock token from; the text itself if it is no uuid.
std::string LockTokenTag(const std::string& token) {
  std::string hex;
  for (char c : token) {
    if (c != '-') hex += c;
  }
  if (hex.size() != 32 || !std::all_of(hex.begin(), hex.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
    return token;
  }
  std::string bytes(16, '\0');
  for (size_t i = 0; i < 16; ++i) bytes[i] = static_cast<char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  // Guid's first three fields are little-endian in its byte form.
  std::reverse(bytes.begin(), bytes.begin() + 4);
  std::reverse(bytes.begin() + 4, bytes.begin() + 6);
  std::reverse(bytes.begin() + 6, bytes.begin() + 8);
  return bytes;
}

}  // namespace

ServiceLinks::ServiceLinks(LinkContext context, const HubServices& services)
    : context_(context), services_(services) {}

ServiceLinks::~ServiceLinks() {
  feedback_added_.Reset();
  for (auto& [link, l] : links_) AbandonAll(l);
}

bool ServiceLinks::OnLinkOpen(pn_link_t* link, const std::string& path) {
  if (!StartsWithSegment(path, "messages")) return false;
  const bool we_receive = pn_link_is_receiver(link);
  if (SameName(path, "messages/devicebound")) {
    if (!we_receive) {
      RefuseLink(link, "amqp:not-allowed", "The back end sends cloud-to-device messages to /messages/devicebound; "
                                           "devices receive theirs on /devices/{deviceId}/messages/devicebound");
    } else {
      Open(link, path, Node::kDevicebound);
    }
  } else if (SameName(path, "messages/serviceBound/feedback") || SameName(path, "messages/serviceBound/filenotifications")) {
    if (we_receive) {
      RefuseLink(link, "amqp:not-allowed", "'" + LinkAddress(link) + "' is read by the back end, not sent to");
    } else {
      Open(link, path, SameName(path, "messages/serviceBound/feedback") ? Node::kFeedback : Node::kFileNotifications);
    }
  } else {
    RefuseLink(link, "amqp:not-found", "The messaging entity '" + LinkAddress(link) + "' could not be found");
  }
  return true;
}

void ServiceLinks::Open(pn_link_t* link, const std::string& path, Node node) {
  if (!context_.claims.Covering(path, kServiceConnect, Clock::now())) {
    return RefuseLink(link, "amqp:unauthorized-access",
                      "Put a token of a policy with ServiceConnect on $cbs (audience: the hub's host name) "
                      "before opening '" + LinkAddress(link) + "'");
  }
  OpenLink(link);
  Link& l = links_[link] = Link{node, path, {}, std::chrono::steady_clock::time_point::max(), next_serial_++};
  if (node == Node::kDevicebound) pn_link_flow(link, 100);  // the connection tops it up as messages arrive
  if (node == Node::kFeedback) {
    FollowFeedback();
    Fill(link, l);
  }
}

// One subscription per connection: records added post one wake-up, however many links wait.
void ServiceLinks::FollowFeedback() {
  if (feedback_added_) return;
  feedback_added_ = services_.cloud_to_device->OnFeedback([weak = context_.connection.weak_from_this(),
                                                           posted = wake_posted_] {
    if (posted->exchange(true)) return;
    if (auto c = weak.lock()) {
      c->Post([c = c.get(), posted] {
        posted->store(false);
        c->WakeSenders();
      });
    }
  });
}

void ServiceLinks::OnMessage(pn_link_t* link, pn_delivery_t* delivery, std::string bytes) {
  auto it = links_.find(link);
  if (it == links_.end() || it->second.node != Node::kDevicebound) return Accept(delivery);
  if (!context_.claims.Covering(it->second.path, kServiceConnect, Clock::now())) {
    RejectDelivery(delivery, "amqp:unauthorized-access", "The token for this link expired and was not renewed on $cbs");
    links_.erase(it);
    return CloseLink(link, "amqp:unauthorized-access", "The token for this link expired and was not renewed on $cbs");
  }
  Receive(link, delivery, bytes);
}

void ServiceLinks::Receive(pn_link_t* link, pn_delivery_t* delivery, const std::string& bytes) {
  if (bytes.size() > kMaxCloudToDeviceBytes) {
    return RejectDelivery(delivery, "amqp:link:message-size-exceeded",
                          "A cloud-to-device message may be at most " + std::to_string(kMaxCloudToDeviceBytes) +
                              " bytes; this one is " + std::to_string(bytes.size()));
  }
  auto message = DecodeServiceMessage(bytes);
  if (!message.ok()) return RejectDelivery(delivery, ConditionOf(message.status()), message.status().message());
  // Settled once durably queued (it then outlives a restart with a data directory), on the
  // strand, if the link is still there; sends that arrive meanwhile share that sync.
  auto settle = [link, delivery, serial = links_.at(link).serial](ServiceLinks& links, const Result<int64_t>& sent) {
    auto it = links.links_.find(link);
    if (it == links.links_.end() || it->second.serial != serial) return;  // gone with its link
    if (sent.ok()) return Accept(delivery);
    RejectDelivery(delivery, ConditionOf(sent.status()), sent.status().message());
  };
  try {
    services_.cloud_to_device->Send(
        std::move(message).value(),
        [weak_self = std::weak_ptr<ServiceLinks*>(self_), weak = context_.connection.weak_from_this(),
         settle](Result<int64_t> sent) {
          auto c = weak.lock();
          if (!c) return;
          c->Post([weak_self, settle, sent = std::move(sent)] {
            if (auto self = weak_self.lock()) settle(**self, sent);
          });
        });
  } catch (const std::exception& e) {
    RejectDelivery(delivery, "amqp:internal-error", std::string("The message could not be queued: ") + e.what());
  }
}

void ServiceLinks::OnCredit(pn_link_t* link) {
  if (auto it = links_.find(link); it != links_.end() && it->second.node == Node::kFeedback) Fill(link, it->second);
}

void ServiceLinks::Fill(pn_link_t* link, Link& l) {
  l.next_look = std::chrono::steady_clock::time_point::max();
  while (pn_link_credit(link) > 0) {
    std::optional<FeedbackBatch> batch;
    try {
      batch = services_.feedback->Receive();
    } catch (const std::exception&) {
      // A busy or failing store: look again later.
    }
    if (!batch) {
      l.next_look = std::chrono::steady_clock::now() + kFeedbackPoll;
      return;
    }
    const std::string bytes =
        EncodeFeedbackMessage(*batch, crypto::RandomUuid(), services_.entity.hub_name, Clock::now());
    const std::string tag = LockTokenTag(batch->lock_token);
    pn_delivery_t* d = pn_delivery(link, pn_dtag(tag.data(), tag.size()));
    pn_link_send(link, bytes.data(), bytes.size());
    pn_link_advance(link);
    if (pn_link_snd_settle_mode(link) == PN_SND_SETTLED) {
      // Sent pre-settled: the peer has no say, so the records are delivered at most once.
      pn_delivery_settle(d);
      try {
        (void)services_.feedback->Complete(batch->lock_token);
      } catch (const std::exception&) {
        // The lock runs out and the records come back.
      }
    } else {
      l.unsettled[d] = batch->lock_token;
    }
  }
}

void ServiceLinks::OnOutcome(pn_link_t* link, pn_delivery_t* delivery) {
  auto it = links_.find(link);
  if (it == links_.end()) return pn_delivery_settle(delivery);
  Link& l = it->second;
  auto sent = l.unsettled.find(delivery);
  if (sent == l.unsettled.end()) return pn_delivery_settle(delivery);
  const uint64_t state = pn_delivery_remote_state(delivery);
  const bool settled = pn_delivery_settled(delivery);
  if (state != PN_ACCEPTED && state != PN_REJECTED && state != PN_RELEASED && state != PN_MODIFIED && !settled) {
    return;  // not an outcome yet (received)
  }
  const std::string token = sent->second;
  l.unsettled.erase(sent);
  pn_delivery_settle(delivery);
  try {
    // IoT Hub's feedback queue dead-letters a rejected batch: for the back end it is gone, as a completed one.
    if (state == PN_ACCEPTED || state == PN_REJECTED) {
      (void)services_.feedback->Complete(token);
    } else {
      (void)services_.feedback->Abandon(token);
      Fill(link, l);  // the records are back: the peer may have credit for them
    }
  } catch (const std::exception&) {
    // The lock runs out and the records come back.
  }
}

void ServiceLinks::AbandonAll(Link& l) {
  for (auto& [d, token] : l.unsettled) {
    try {
      (void)services_.feedback->Abandon(token);
    } catch (const std::exception&) {
    }
  }
  l.unsettled.clear();
}

void ServiceLinks::OnLinkClosed(pn_link_t* link) {
  auto it = links_.find(link);
  if (it == links_.end()) return;
  AbandonAll(it->second);  // batches the peer never settled go back to the queue at once
  links_.erase(it);
  if (std::none_of(links_.begin(), links_.end(), [](const auto& e) { return e.second.node == Node::kFeedback; })) {
    feedback_added_.Reset();
  }
}

void ServiceLinks::OnTick(TimePoint now) {
  for (auto it = links_.begin(); it != links_.end();) {
    if (context_.claims.Covering(it->second.path, kServiceConnect, now)) {
      ++it;
      continue;
    }
    pn_link_t* link = it->first;
    AbandonAll(it->second);
    it = links_.erase(it);
    CloseLink(link, "amqp:unauthorized-access", "The token for this link expired and was not renewed on $cbs");
  }
  const auto steady = std::chrono::steady_clock::now();
  for (auto& [link, l] : links_) {
    if (l.node == Node::kFeedback && l.next_look <= steady) Fill(link, l);
  }
  if (std::none_of(links_.begin(), links_.end(), [](const auto& e) { return e.second.node == Node::kFeedback; })) {
    feedback_added_.Reset();
  }
}

std::chrono::steady_clock::time_point ServiceLinks::Deadline() {
  auto deadline = std::chrono::steady_clock::time_point::max();
  for (const auto& [link, l] : links_) deadline = std::min(deadline, l.next_look);
  return deadline;
}

}  // namespace iothub::amqp
