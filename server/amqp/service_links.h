// The service's nodes on one AMQP connection (spec §7), as azure-iothub's Client uses them
// after $cbs put-token with a policy that has ServiceConnect:
// - /messages/devicebound: the back end sends cloud-to-device messages, each addressed by
//   its `to`; a message is accepted once queued for its device, rejected with the condition
//   the SDKs map to their errors otherwise (unknown device, full queue, too large, ...).
// - /messages/serviceBound/feedback: the hub sends the feedback queue's records in batches,
//   each delivery locked under its lock token (also its delivery tag) until the back end's
//   outcome: accepted or rejected completes the batch, released or modified abandons it.
//   Woken when records are added (CloudToDevice::OnFeedback), and now and then for records
//   whose lock ran out elsewhere.
// - /messages/serviceBound/filenotifications: opens; file uploads are not emulated, so it stays empty.
// Any other address under messages/ is not found. On the connection's strand only.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "amqp/hub_services.h"
#include "amqp/link_group.h"
#include "core/notifier.h"

namespace iothub::amqp {

class ServiceLinks final : public LinkGroup {
 public:
  // How long a feedback link with credit and nothing to send waits before it looks again
  // (records unlocked by a lock that ran out are not announced).
  static constexpr std::chrono::seconds kFeedbackPoll{5};

  // `services` has cloud_to_device and feedback set.
  ServiceLinks(LinkContext context, const HubServices& services);
  ~ServiceLinks() override;

  bool OnLinkOpen(pn_link_t* link, const std::string& path) override;
  void OnMessage(pn_link_t* link, pn_delivery_t* delivery, std::string bytes) override;
  void OnCredit(pn_link_t* link) override;
  void OnOutcome(pn_link_t* link, pn_delivery_t* delivery) override;
  void OnLinkClosed(pn_link_t* link) override;
  void OnTick(TimePoint now) override;
  bool HasLinks() const override { return !links_.empty(); }
  std::chrono::steady_clock::time_point Deadline() override;

 private:
  enum class Node { kDevicebound, kFeedback, kFileNotifications };
  struct Link {
    Node node;
    std::string path;
    std::map<pn_delivery_t*, std::string> unsettled;  // feedback batches sent: their lock tokens
    std::chrono::steady_clock::time_point next_look = std::chrono::steady_clock::time_point::max();
    uint64_t serial = 0;  // tells this link from a later one Proton puts at the same address
  };

  void Open(pn_link_t* link, const std::string& path, Node node);
  void Receive(pn_link_t* link, pn_delivery_t* delivery, const std::string& bytes);
  void Fill(pn_link_t* link, Link& l);
  void AbandonAll(Link& l);
  void FollowFeedback();

  LinkContext context_;
  const HubServices& services_;
  std::map<pn_link_t*, Link> links_;
  Notifier::Subscription feedback_added_;
  std::shared_ptr<std::atomic<bool>> wake_posted_ = std::make_shared<std::atomic<bool>>(false);
  uint64_t next_serial_ = 1;
  // Held weakly by work posted from other threads (a send's durable queueing), which
  // finds this object gone once the connection has let go of it.
  std::shared_ptr<ServiceLinks*> self_ = std::make_shared<ServiceLinks*>(this);
};

}  // namespace iothub::amqp
