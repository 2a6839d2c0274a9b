#include "amqp/event_hub_links.h"

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/terminus.h>

#include <algorithm>
#include <cstring>

#include "amqp/event_message.h"
#include "amqp/selector_filter.h"
#include "core/access_policy.h"

namespace iothub::amqp {
namespace {

constexpr uint64_t kSelectorFilterCode = 0x0000468C00000004;
constexpr size_t kMaxBatch = 128;  // events taken from the reader at once
// Deliveries a link may have in Proton's buffers, not yet written: beyond it, a reader that grants
// much credit but reads slowly would hold events in our memory; filling resumes as output drains.
constexpr int kMaxUnwritten = 256;

std::string_view Text(pn_bytes_t b) { return {b.start, b.size}; }

// The selector-filter expression of a receiver's source, when it has one.
std::optional<std::string> SelectorOf(pn_link_t* link) {
  pn_data_t* f = pn_terminus_filter(pn_link_remote_source(link));
  if (!f) return std::nullopt;
  pn_data_rewind(f);
  if (!pn_data_next(f) || pn_data_type(f) != PN_MAP) return std::nullopt;
  const size_t entries = pn_data_get_map(f) / 2;
  pn_data_enter(f);
  std::optional<std::string> found;
  for (size_t i = 0; i < entries && !found; ++i) {
    if (!pn_data_next(f)) break;
    bool selector = false;
    if (pn_data_type(f) == PN_SYMBOL) selector = Text(pn_data_get_symbol(f)).find("selector-filter") != std::string_view::npos;
    if (pn_data_type(f) == PN_STRING) selector = Text(pn_data_get_string(f)).find("selector-filter") != std::string_view::npos;
    if (!pn_data_next(f)) break;
    if (pn_data_type(f) == PN_DESCRIBED) {
      pn_data_enter(f);
      if (pn_data_next(f)) {
        if (pn_data_type(f) == PN_ULONG && pn_data_get_ulong(f) == kSelectorFilterCode) selector = true;
        if (pn_data_type(f) == PN_SYMBOL) selector |= Text(pn_data_get_symbol(f)).find("selector-filter") != std::string_view::npos;
        if (pn_data_next(f) && selector && pn_data_type(f) == PN_STRING) found = std::string(Text(pn_data_get_string(f)));
      }
      pn_data_exit(f);
    } else if (selector && pn_data_type(f) == PN_STRING) {
      found = std::string(Text(pn_data_get_string(f)));
    }
  }
  pn_data_exit(f);
  return found;
}

// The owner level (com.microsoft:epoch) in a link's properties, when given.
std::optional<int64_t> OwnerLevelOf(pn_link_t* link) {
  pn_data_t* p = pn_link_remote_properties(link);
  if (!p) return std::nullopt;  // a link without properties has none to read
  pn_data_rewind(p);
  if (!pn_data_next(p) || pn_data_type(p) != PN_MAP) return std::nullopt;
  const size_t entries = pn_data_get_map(p) / 2;
  pn_data_enter(p);
  std::optional<int64_t> level;
  for (size_t i = 0; i < entries; ++i) {
    if (!pn_data_next(p)) break;
    const bool epoch = pn_data_type(p) == PN_SYMBOL && Text(pn_data_get_symbol(p)) == "com.microsoft:epoch";
    if (!pn_data_next(p)) break;
    if (!epoch) continue;
    if (pn_data_type(p) == PN_LONG) level = pn_data_get_long(p);
    if (pn_data_type(p) == PN_INT) level = pn_data_get_int(p);
  }
  pn_data_exit(p);
  return level;
}

}  // namespace

EventHubLinks::EventHubLinks(LinkContext context, const HubServices& services)
    : context_(context), services_(services) {}

EventHubLinks::~EventHubLinks() { commits_.Reset(); }

bool EventHubLinks::OnLinkOpen(pn_link_t* link, const std::string& path) {
  const auto segments = PathSegments(path);
  if (segments.size() >= 2 && segments[0] == "messages" && segments[1] == "events") {
    Redirect(link, path);
    return true;
  }
  if (segments.empty() || !SameName(segments[0], services_.entity.hub_name)) return false;
  if (pn_link_is_receiver(link)) {
    RefuseLink(link, "amqp:not-allowed", "The Event Hub-compatible endpoint is read-only: devices send telemetry to the hub");
  } else if (segments.size() == 5 && SameName(segments[1], "ConsumerGroups") && SameName(segments[3], "Partitions")) {
    OpenPartition(link, path, std::string(segments[2]), std::string(segments[4]));
  } else {
    RefuseLink(link, "amqp:not-found", "The messaging entity '" + LinkAddress(link) + "' could not be found");
  }
  return true;
}

// IoT Hub's own address for events: the Event Hub-compatible entity answers there, so a
// receiver is told where, as IoT Hub does (spec §6.6); the SDKs' samples follow it.
void EventHubLinks::Redirect(pn_link_t* link, const std::string& path) {
  if (!context_.claims.Covering(path, kServiceConnect, Clock::now())) {
    return RefuseLink(link, "amqp:unauthorized-access",
                      "Sign in with a policy that has ServiceConnect (SASL PLAIN or $cbs) to read events");
  }
  const std::string rest = path.substr(std::string_view("messages/events").size());
  const EntityInfo& e = services_.entity;
  const std::string address = "amqps://" + e.host + ":" + std::to_string(e.amqps_port) + "/" + e.hub_name + rest;
  pn_terminus_set_type(pn_link_is_sender(link) ? pn_link_source(link) : pn_link_target(link), PN_UNSPECIFIED);
  pn_link_open(link);
  pn_condition_t* c = pn_link_condition(link);
  pn_data_t* info = pn_condition_info(c);
  pn_data_put_map(info);
  pn_data_enter(info);
  auto put = [&](const char* key, auto&& put_value) {
    pn_data_put_symbol(info, pn_bytes(std::strlen(key), key));
    put_value();
  };
  put("hostname", [&] { pn_data_put_string(info, pn_bytes(e.host.size(), e.host.data())); });
  put("network-host", [&] { pn_data_put_string(info, pn_bytes(e.host.size(), e.host.data())); });
  put("port", [&] { pn_data_put_int(info, e.amqps_port); });
  put("address", [&] { pn_data_put_string(info, pn_bytes(address.size(), address.data())); });
  pn_data_exit(info);
  CloseLink(link, "amqp:link:redirect", "Read events from the Event Hub-compatible endpoint: " + address);
}

void EventHubLinks::OpenPartition(pn_link_t* link, const std::string& path, const std::string& group,
                             const std::string& partition_text) {
  if (!context_.claims.Covering(path, kServiceConnect, Clock::now())) {
    return RefuseLink(link, "amqp:unauthorized-access",
                      "Put a token with ServiceConnect for '" + path + "' on $cbs before opening the link");
  }
  if (!services_.has_consumer_group(group)) {
    // The SDKs recognise this wording (MessagingEntityNotFoundError).
    return RefuseLink(link, "amqp:not-found",
                      "The messaging entity '" + services_.entity.hub_name + "/ConsumerGroups/" + group +
                          "' could not be found: consumer group '" + group + "' does not exist");
  }
  int partition = -1;
  for (int p = 0; p < services_.log.partition_count(); ++p) {
    if (partition_text == std::to_string(p)) partition = p;
  }
  if (partition < 0) {
    return RefuseLink(link, "amqp:not-found",
                      "There is no partition '" + partition_text + "'; there are " +
                          std::to_string(services_.log.partition_count()));
  }
  EventPosition position = EventPosition::Earliest();
  if (auto selector = SelectorOf(link)) {
    auto parsed = ParseSelectorFilter(*selector);
    if (!parsed.ok()) return RefuseLink(link, "amqp:invalid-field", parsed.status().message());
    position = parsed.value();
  }

  const uint64_t serial = next_serial_++;
  auto admission = services_.readers.Admit(
      group, partition, OwnerLevelOf(link),
      [weak = context_.connection.weak_from_this(), this, link, serial](PartitionReaders::Eviction why,
                                                                 const std::string& reason) {
        auto c = weak.lock();
        if (!c) return;
        c->Post([this, link, serial, why, reason] {
          auto it = partitions_.find(link);
          if (it == partitions_.end() || it->second.serial != serial) return;
          const std::string path = it->second.path;
          partitions_.erase(it);
          // The SDKs map these to ReceiverDisconnectedError and (by this wording) MessagingEntityNotFoundError.
          if (why == PartitionReaders::Eviction::kTakenOver) return CloseLink(link, "amqp:link:stolen", reason);
          CloseLink(link, "amqp:not-found", "The messaging entity '" + path + "' could not be found: " + reason);
        });
      });
  if (admission.refusal == PartitionReaders::Refusal::kTooMany) {
    return RefuseLink(link, "amqp:resource-limit-exceeded", admission.reason);
  }
  if (admission.refusal == PartitionReaders::Refusal::kLowerOwnerLevel) {
    return RefuseLink(link, "amqp:link:stolen", admission.reason);
  }

  std::vector<int64_t> next(services_.log.partition_count(), 0);
  next[partition] = ResolvePosition(services_.log, partition, position);
  OpenLink(link);
  partitions_[link] = PartitionLink{serial, path,
                                    std::make_unique<EventReader>(services_.log, std::move(next), std::vector<int>{partition}),
                                    std::move(admission.place), 0};
  FollowCommits();
}

// One subscription per connection: a commit posts one wake-up, however many links wait.
void EventHubLinks::FollowCommits() {
  if (commits_) return;
  commits_ = services_.log.OnCommit([weak = context_.connection.weak_from_this(), posted = wake_posted_] {
    if (posted->exchange(true)) return;
    if (auto c = weak.lock()) {
      c->Post([c = c.get(), posted] {
        posted->store(false);
        c->WakeSenders();
      });
    }
  });
}

void EventHubLinks::OnCredit(pn_link_t* link) {
  if (auto p = partitions_.find(link); p != partitions_.end()) Fill(link, p->second);
}

void EventHubLinks::Fill(pn_link_t* link, PartitionLink& p) {
  while (pn_link_credit(link) > 0) {
    if (pn_link_queued(link) >= kMaxUnwritten) return context_.connection.WakeSendersAfterWrite();
    auto events = p.reader->TryRead(std::min<size_t>(pn_link_credit(link), kMaxBatch));
    if (events.empty()) return;  // the next commit wakes it
    for (const EventPtr& e : events) {
      // Live events carry a rendering shared by every reader: encoded once, however many read it.
      if (e->renderings) {
        SendMessage(link, e->renderings->Get(EventRenderings::kAmqpMessage, [&] { return EncodeEventMessage(*e); }),
                    p.next_tag);
      } else {
        SendMessage(link, EncodeEventMessage(*e), p.next_tag);
      }
    }
  }
}

void EventHubLinks::OnLinkClosed(pn_link_t* link) {
  partitions_.erase(link);
  if (partitions_.empty()) commits_.Reset();
}

void EventHubLinks::OnTick(TimePoint now) {
  for (auto it = partitions_.begin(); it != partitions_.end();) {
    if (context_.claims.Covering(it->second.path, kServiceConnect, now)) {
      ++it;
      continue;
    }
    pn_link_t* link = it->first;
    it = partitions_.erase(it);
    CloseLink(link, "amqp:unauthorized-access", "The token for this link expired and was not renewed on $cbs");
  }
  if (partitions_.empty()) commits_.Reset();
}

}  // namespace iothub::amqp
