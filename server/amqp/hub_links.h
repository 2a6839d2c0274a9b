// The links of one AMQP connection to the hub. HubLinks itself answers the
// request/response nodes, $cbs put-token and the Event Hub-compatible entity's
// $management READ, and keeps what the peer proved (CbsClaims); every other link
// goes to the group whose address it is (link_group.h): the Event Hub-compatible
// entity, the service's nodes, a device's links. On the connection's strand only
// (LinkHandler's contract).
#pragma once

#include <proton/link.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "amqp/amqp_connection.h"
#include "amqp/cbs_claims.h"
#include "amqp/hub_services.h"
#include "amqp/link_group.h"
#include "amqp/requests.h"

namespace iothub::amqp {

class HubLinks final : public LinkHandler {
 public:
  HubLinks(AmqpConnection& connection, const HubServices& services);
  ~HubLinks() override;

  void OnLinkOpen(pn_link_t* link) override;
  void OnMessage(pn_link_t* link, pn_delivery_t* delivery, std::string bytes) override;
  void OnOutcome(pn_link_t* link, pn_delivery_t* delivery) override;
  void OnCredit(pn_link_t* link) override;
  void OnLinkClosed(pn_link_t* link) override;
  void OnSignedIn(const Principal& who) override { claims_.Grant("", who); }
  void OnTick() override;
  std::chrono::steady_clock::time_point Deadline() override;

 private:
  enum class Node { kCbs, kManagement };
  struct ReplyLink {
    Node node;
    std::deque<std::string> queue;  // answers waiting for credit
    uint64_t next_tag = 0;
  };

  void OpenNode(pn_link_t* link, Node node);
  void Answer(Node node, pn_link_t* request_link, Reply reply);
  void Flush(pn_link_t* link, ReplyLink& reply);

  const HubServices& services_;
  CbsClaims claims_;
  std::vector<std::unique_ptr<LinkGroup>> groups_;
  std::unordered_map<pn_link_t*, LinkGroup*> owners_;  // the group that opened each link
  std::map<pn_link_t*, Node> requests_;      // links the peer sends requests on
  std::map<pn_link_t*, ReplyLink> replies_;  // links we answer on
};

}  // namespace iothub::amqp
