#include "amqp/hub_links.h"

#include <proton/condition.h>
#include <proton/delivery.h>
#include <proton/connection.h>
#include <proton/terminus.h>

#include <algorithm>

#include "amqp/device_links.h"
#include "amqp/event_hub_links.h"
#include "amqp/service_links.h"

namespace iothub::amqp {
namespace {

constexpr size_t kMaxQueuedReplies = 100;

bool Same(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

HubLinks::HubLinks(AmqpConnection& connection, const HubServices& services)
    : services_(services), claims_(services.sas) {
  const LinkContext context{connection, claims_};
  groups_.push_back(std::make_unique<EventHubLinks>(context, services));
  if (services.devices && services.device) groups_.push_back(std::make_unique<DeviceLinks>(context, services));
  if (services.cloud_to_device && services.feedback) groups_.push_back(std::make_unique<ServiceLinks>(context, services));
}

HubLinks::~HubLinks() = default;

void HubLinks::OnLinkOpen(pn_link_t* link) {
  const std::string path = EntityPath(LinkAddress(link), services_.sas);
  if (path == "$cbs") return OpenNode(link, Node::kCbs);
  const std::string entity_management = services_.entity.hub_name + "/$management";
  if (Same(path, "$management") || Same(path, entity_management)) return OpenNode(link, Node::kManagement);
  for (auto& group : groups_) {
    if (!group->OnLinkOpen(link, path)) continue;
    if (pn_link_state(link) & PN_LOCAL_ACTIVE) owners_[link] = group.get();
    return;
  }
  RefuseLink(link, "amqp:not-found", "The messaging entity '" + LinkAddress(link) + "' could not be found");
}

void HubLinks::OpenNode(pn_link_t* link, Node node) {
  OpenLink(link);
  if (pn_link_is_receiver(link)) {
    requests_[link] = node;
    pn_link_flow(link, 100);
  } else {
    replies_[link] = ReplyLink{node, {}, 0};
  }
}

void HubLinks::OnMessage(pn_link_t* link, pn_delivery_t* delivery, std::string bytes) {
  if (auto owner = owners_.find(link); owner != owners_.end()) {
    return owner->second->OnMessage(link, delivery, std::move(bytes));
  }
  Accept(delivery);
  auto it = requests_.find(link);
  if (it == requests_.end()) return;
  const Node node = it->second;
  Reply reply = node == Node::kCbs ? HandleCbsRequest(bytes, claims_)
                                   : HandleManagementRequest(bytes, claims_, services_.sas, services_.log,
                                                             services_.entity);
  Answer(node, link, std::move(reply));
}

void HubLinks::OnOutcome(pn_link_t* link, pn_delivery_t* delivery) {
  if (auto owner = owners_.find(link); owner != owners_.end()) return owner->second->OnOutcome(link, delivery);
  pn_delivery_settle(delivery);  // replies: nothing to track
}

void HubLinks::Answer(Node node, pn_link_t* request_link, Reply reply) {
  if (reply.bytes.empty()) return;
  // The link the requester named (by its name or its target address), else one of that node in its session.
  pn_link_t* chosen = nullptr;
  for (auto& [l, r] : replies_) {
    if (r.node != node) continue;
    const char* target = pn_terminus_get_address(pn_link_remote_target(l));
    if (reply.reply_to == pn_link_name(l) || (target && reply.reply_to == target)) {
      chosen = l;
      break;
    }
    if (!chosen || pn_link_session(l) == pn_link_session(request_link)) chosen = l;
  }
  if (!chosen) return;  // nobody listens for the answer
  ReplyLink& r = replies_[chosen];
  if (r.queue.size() >= kMaxQueuedReplies) {
    // The requester asks without reading its answers: its requests cost memory, so it loses the link.
    replies_.erase(chosen);
    return CloseLink(chosen, "amqp:resource-limit-exceeded",
                     "More than " + std::to_string(kMaxQueuedReplies) + " answers wait for credit on this link");
  }
  r.queue.push_back(std::move(reply.bytes));
  Flush(chosen, r);
}

void HubLinks::Flush(pn_link_t* link, ReplyLink& reply) {
  while (!reply.queue.empty() && pn_link_credit(link) > 0) {
    SendMessage(link, reply.queue.front(), reply.next_tag);
    reply.queue.pop_front();
  }
}

void HubLinks::OnCredit(pn_link_t* link) {
  if (auto r = replies_.find(link); r != replies_.end()) return Flush(link, r->second);
  if (auto owner = owners_.find(link); owner != owners_.end()) owner->second->OnCredit(link);
}

void HubLinks::OnLinkClosed(pn_link_t* link) {
  requests_.erase(link);
  replies_.erase(link);
  if (auto owner = owners_.find(link); owner != owners_.end()) {
    LinkGroup* group = owner->second;
    owners_.erase(owner);
    group->OnLinkClosed(link);
  }
}

void HubLinks::OnTick() {
  const TimePoint now = Clock::now();
  for (auto& group : groups_) group->OnTick(now);
  claims_.DropExpired(now);
}

std::chrono::steady_clock::time_point HubLinks::Deadline() {
  auto deadline = std::chrono::steady_clock::time_point::max();
  for (auto& group : groups_) deadline = std::min(deadline, group->Deadline());
  auto next = claims_.NextExpiry();
  const bool claims_matter = std::any_of(groups_.begin(), groups_.end(), [](auto& g) { return g->HasLinks(); });
  if (!next || !claims_matter) return deadline;
  auto left = std::max(Clock::duration::zero(), *next - Clock::now());
  return std::min(deadline, std::chrono::steady_clock::now() +
                                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(left) +
                                 std::chrono::milliseconds(1));
}

}  // namespace iothub::amqp
