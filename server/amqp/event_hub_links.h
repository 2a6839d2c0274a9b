// The Event Hub-compatible entity's links on one connection: receivers on
// {hub}/ConsumerGroups/{group}/Partitions/{n}, each fed by its own EventReader as
// credit allows and woken by the log's commits; the entity is read-only; and IoT
// Hub's own messages/events address, which redirects there (spec §6.4–6.6).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "amqp/link_group.h"
#include "amqp/hub_services.h"
#include "core/event_reader.h"
#include "core/partition_readers.h"

namespace iothub::amqp {

class EventHubLinks final : public LinkGroup {
 public:
  EventHubLinks(LinkContext context, const HubServices& services);
  ~EventHubLinks() override;

  bool OnLinkOpen(pn_link_t* link, const std::string& path) override;
  void OnMessage(pn_link_t*, pn_delivery_t*, std::string) override {}  // it only sends
  void OnCredit(pn_link_t* link) override;
  void OnLinkClosed(pn_link_t* link) override;
  void OnTick(TimePoint now) override;
  bool HasLinks() const override { return !partitions_.empty(); }

 private:
  struct PartitionLink {
    uint64_t serial;
    std::string path;  // {hub}/ConsumerGroups/{group}/Partitions/{n}
    std::unique_ptr<EventReader> reader;
    PartitionReaders::Place place;
    uint64_t next_tag = 0;
  };

  void Redirect(pn_link_t* link, const std::string& path);
  void OpenPartition(pn_link_t* link, const std::string& path, const std::string& group, const std::string& partition);
  void Fill(pn_link_t* link, PartitionLink& partition);
  void FollowCommits();

  LinkContext context_;
  const HubServices& services_;
  std::map<pn_link_t*, PartitionLink> partitions_;
  uint64_t next_serial_ = 1;
  EventLog::Subscription commits_;
  std::shared_ptr<std::atomic<bool>> wake_posted_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace iothub::amqp
