// The links of one AMQP connection to the hub: $cbs and $management requests and their
// replies, and receivers on the Event Hub-compatible entity's partitions, each fed by
// its own EventReader as credit allows and woken by the log's commits. On the
// connection's strand only (LinkHandler's contract).
#pragma once

#include <proton/link.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "amqp/amqp_connection.h"
#include "amqp/cbs_claims.h"
#include "amqp/requests.h"
#include "core/event_log.h"
#include "core/event_reader.h"
#include "core/partition_readers.h"
#include "core/sas_authenticator.h"

namespace iothub::amqp {

// What the AMQP endpoint serves from; all outlive every connection.
struct HubServices {
  EventLog& log;
  const SasAuthenticator& sas;
  PartitionReaders& readers;
  EntityInfo entity;
  // True when the consumer group exists (names are case-insensitive).
  std::function<bool(const std::string&)> has_consumer_group;
};

class HubLinks final : public LinkHandler {
 public:
  HubLinks(AmqpConnection& connection, const HubServices& services);
  ~HubLinks() override;

  void OnLinkOpen(pn_link_t* link) override;
  void OnMessage(pn_link_t* link, std::string bytes) override;
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
  struct PartitionLink {
    uint64_t serial;
    std::string path;  // {hub}/ConsumerGroups/{group}/Partitions/{n}
    std::unique_ptr<EventReader> reader;
    PartitionReaders::Place place;
    uint64_t next_tag = 0;
  };

  void OpenNode(pn_link_t* link, Node node);
  void Redirect(pn_link_t* link, const std::string& path);
  void OpenPartition(pn_link_t* link, const std::string& path, const std::string& group, const std::string& partition);
  void Answer(Node node, pn_link_t* request_link, Reply reply);
  void Flush(pn_link_t* link, ReplyLink& reply);
  void Fill(pn_link_t* link, PartitionLink& partition);
  void FollowCommits();

  AmqpConnection& connection_;
  const HubServices& services_;
  CbsClaims claims_;
  std::map<pn_link_t*, Node> requests_;       // links the peer sends requests on
  std::map<pn_link_t*, ReplyLink> replies_;   // links we answer on
  std::map<pn_link_t*, PartitionLink> partitions_;
  uint64_t next_serial_ = 1;
  EventLog::Subscription commits_;
  std::shared_ptr<std::atomic<bool>> wake_posted_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace iothub::amqp
