// A family of links on one AMQP connection (the Event Hub-compatible entity, the
// service's C2D and feedback nodes, a device's own links). HubLinks answers $cbs
// for the connection and hands each link to the group whose address it is; the
// group then hears everything about its links. On the connection's strand only.
#pragma once

#include <proton/delivery.h>
#include <proton/link.h>

#include <chrono>
#include <string>

#include "amqp/amqp_connection.h"
#include "amqp/cbs_claims.h"

namespace iothub::amqp {

// What the groups of one connection share.
struct LinkContext {
  AmqpConnection& connection;
  CbsClaims& claims;  // what the peer proved on $cbs or with SASL PLAIN
};

class LinkGroup {
 public:
  virtual ~LinkGroup() = default;
  // `path` is the link's address with scheme and host dropped (EntityPath). Opens or refuses
  // the link and returns true when the address is this group's; false leaves it to others.
  virtual bool OnLinkOpen(pn_link_t* link, const std::string& path) = 0;
  // LinkHandler's calls, for the links this group opened.
  virtual void OnMessage(pn_link_t* link, pn_delivery_t* delivery, std::string bytes) = 0;
  virtual void OnCredit(pn_link_t* link) = 0;
  virtual void OnOutcome(pn_link_t* /*link*/, pn_delivery_t* delivery) { pn_delivery_settle(delivery); }
  virtual void OnLinkClosed(pn_link_t* link) = 0;
  // Before the claims expired at `now` are dropped: detach the links they alone allowed.
  virtual void OnTick(TimePoint now) = 0;
  // Whether a claim's expiry matters to this group now (it has links a claim allows).
  virtual bool HasLinks() const = 0;
  // Another time this group must be ticked at; max() when none.
  virtual std::chrono::steady_clock::time_point Deadline() { return std::chrono::steady_clock::time_point::max(); }
};

}  // namespace iothub::amqp
