// What the AMQP fuzz targets (and the seed generator) serve from: the hub's services wired
// as server/app/main.cpp wires them (an event log over in-memory SQLite holding a few events
// in every partition, the default policies, the readers' rules, consumer groups $Default and
// "second"; the registry with devices dev1 and dev2 (keys kDeviceKey), their cloud-to-device
// queues and the feedback queue, the devices' services), an event loop to run connections
// on, and an in-memory byte stream to feed an AmqpConnection with.
#pragma once

#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <string_view>

#include "amqp/amqp_connection.h"
#include "amqp/hub_links.h"
#include "core/access_policy.h"
#include "core/cloud_to_device.h"
#include "core/cloud_to_device_feedback.h"
#include "core/crypto.h"
#include "core/device_authenticator.h"
#include "core/device_connections.h"
#include "core/device_session.h"
#include "core/direct_methods.h"
#include "core/event_log.h"
#include "core/partition_readers.h"
#include "core/registry.h"
#include "core/sas_authenticator.h"
#include "core/sas_token.h"
#include "core/twins.h"
#include "core/url_encoding.h"
#include "fuzz_check.h"
#include "storage/sqlite_cloud_to_device_store.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"
#include "storage/sqlite_event_store.h"
#include "storage/sqlite_subscription_store.h"
#include "storage/sqlite_twin_store.h"
#include "transport/byte_stream.h"
#include "transport/pending_connections.h"

namespace iothub::fuzz {

inline constexpr std::string_view kHubName = "emulator";
inline constexpr int kPartitions = 4;
inline constexpr int64_t kFarExpiry = 4'102'444'800;  // 2100-01-01, within kLatestTokenExpiry
// The primary and secondary key of the fuzz hub's devices dev1 and dev2 (32 x 'a', base64).
inline constexpr std::string_view kDeviceKey = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=";

// The default policies, kept: Find returns a pointer into them.
inline const AccessPolicies& DefaultPolicies() {
  static const AccessPolicies* policies = new AccessPolicies(AccessPolicies::Defaults());
  return *policies;
}

inline bool SameGroup(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// An Event Hubs token as @azure/core-amqp makes it: sr = encodeURIComponent(audience),
// HMAC over the key's text.
inline std::string EventHubsToken(std::string_view audience, std::string_view policy, int64_t expiry = kFarExpiry) {
  const AccessPolicy* p = DefaultPolicies().Find(policy);
  const std::string key = p ? p->primary_key : "bm90IGEga2V5";
  const std::string sr = UrlEncodeComponent(audience);
  // Signed as SasSignatureMatchesKeyText checks: base64(HMAC-SHA256(key text, sr "\n" se)).
  const std::string sig = crypto::Base64Encode(crypto::HmacSha256(key, sr + "\n" + std::to_string(expiry)));
  return "SharedAccessSignature sr=" + sr + "&sig=" + UrlEncodeComponent(sig) + "&se=" + std::to_string(expiry) +
         "&skn=" + std::string(policy);
}

struct AmqpHub {
  storage::SqliteDatabase db{":memory:"};
  storage::SqliteEventStore store{db};
  EventLog log{store, EventLog::Options{kPartitions, std::chrono::hours(24), 4096, {}}};
  storage::SqliteDeviceStore device_store{db};
  storage::SqliteCloudToDeviceStore c2d_store{db};
  storage::SqliteSubscriptionStore subscription_store{db};
  storage::SqliteTwinStore twin_store{db};
  DeviceConnections connections{device_store};
  Registry registry{device_store, &connections};
  SasAuthenticator sas{AccessPolicies::Defaults(), {"localhost", "myhub.azure-devices.net"},
                       [this](const std::string& id) { return registry.KeysOf(id); }};
  DeviceAuthenticator device_authenticator{sas, registry};
  DirectMethods methods{registry, connections};
  CloudToDevice cloud_to_device{c2d_store, registry, connections};
  CloudToDeviceFeedback feedback{c2d_store};
  Twins twins{twin_store, registry, connections};
  DeviceServices device_services{connections, log, subscription_store, methods, twins, cloud_to_device};
  PartitionReaders readers;
  amqp::HubServices services{log, sas, readers,
                             amqp::EntityInfo{std::string(kHubName), TimePoint(std::chrono::seconds(1'700'000'000)), "localhost", 5671},
                             [](const std::string& g) { return SameGroup(g, "$Default") || SameGroup(g, "second"); },
                             &registry, &cloud_to_device, &feedback, &device_authenticator, &device_services};
  amqp::AmqpOptions options;
  std::atomic<size_t> pending{0};
  asio::io_context io;

  AmqpHub() {
    for (const char* id : {"dev1", "dev2"}) {
      DeviceSpec spec;
      spec.device_id = id;
      spec.primary_key = std::string(kDeviceKey);
      spec.secondary_key = std::string(kDeviceKey);
      Check(registry.Put(spec, {}).ok(), "the fuzz hub's devices are created");
    }
    // At least 4 events in every partition, some with properties, for receivers to be sent.
    auto fewest = [this] {
      const std::vector<int64_t> next = log.NextSequenceNumbers();
      return *std::min_element(next.begin(), next.end());
    };
    for (int i = 0; fewest() < 4; ++i) {
      Check(i < 1000, "the devices' events reach every partition");
      Event e;
      e.body = "{\"n\":" + std::to_string(i) + "}";
      e.annotations = {{"iothub-connection-device-id", "dev" + std::to_string(i)}, {"iothub-message-source", "Telemetry"}};
      if (i % 2) {
        e.properties.message_id = "m" + std::to_string(i);
        e.properties.content_type = "application/json";
        e.application_properties = {{"k", "v"}};
      }
      std::promise<Status> stored;
      auto done = stored.get_future();
      log.Append(std::move(e), [&stored](const Status& s) { stored.set_value(s); });
      Check(done.get().ok(), "the fuzz hub's events are stored");
    }
    KeepFeedbackWaiting();
  }

  // At least one feedback record waiting (unlocked: a connection gives back what it held when
  // it ends), so that a feedback receiver has something to be sent; made, when none is, by
  // purging a message with ack full from dev2's queue.
  void KeepFeedbackWaiting() {
    if (auto batch = feedback.Receive(1)) {
      Check(feedback.Abandon(batch->lock_token).ok(), "a feedback batch just received can be abandoned");
      return;
    }
    CloudToDeviceMessage m;
    m.device_id = "dev2";
    m.ack = "full";
    m.properties.message_id = "fuzz-feedback";
    Check(cloud_to_device.Send(m).ok(), "dev2 takes a message");
    Check(cloud_to_device.Purge("dev2").ok(), "dev2's queue can be purged");
  }

  // True when every reader's place in the partitions and groups a connection may use is free again.
  bool ReadersAllFree() {
    for (const char* group : {"$Default", "second"}) {
      for (int p = 0; p < kPartitions; ++p) {
        std::vector<PartitionReaders::Place> places;
        for (size_t i = 0; i < PartitionReaders::kMaxReaders; ++i) {
          auto a = readers.Admit(group, p, std::nullopt, [](PartitionReaders::Eviction, const std::string&) {});
          if (a.refusal != PartitionReaders::Refusal::kNone) return false;
          places.push_back(std::move(a.place));
        }
      }
    }
    return true;
  }
};

// A connection's bytes in memory: what the peer sends is queued by Feed and read back in
// pieces (sizes from `split_seed`), then End makes reads say kClosed; what the server
// writes collects in `sent`. Waits complete on the executor.
class MemoryStream final : public transport::ByteStream {
 public:
  MemoryStream(asio::any_io_executor executor, uint32_t split_seed)
      : executor_(std::move(executor)), state_(split_seed | 1) {}

  void Feed(std::string_view bytes) {
    input_.append(bytes);
    WakeReader();
  }
  void End() {
    ended_ = true;
    WakeReader();
  }
  // What the server wrote since the last call.
  std::string TakeSent() { return std::exchange(sent_, {}); }
  bool closed() const { return closed_; }
  size_t total_sent() const { return total_sent_; }

  asio::any_io_executor executor() override { return executor_; }
  Io Handshake() override { return Io::kDone; }
  Io Read(char* data, size_t size, size_t* read) override {
    *read = 0;
    if (closed_) return Io::kFailed;
    if (input_.empty()) return ended_ ? Io::kClosed : Io::kWantRead;
    *read = std::min({size, input_.size(), Piece()});
    input_.copy(data, *read);
    input_.erase(0, *read);
    return Io::kDone;
  }
  Io Write(const char* data, size_t size, size_t* written) override {
    *written = 0;
    if (closed_) return Io::kFailed;
    *written = std::min(size, Piece());
    sent_.append(data, *written);
    total_sent_ += *written;
    return Io::kDone;
  }
  bool HasBufferedInput() const override { return !input_.empty() || ended_; }
  void Wait(Io want, WaitHandler then) override {
    if (closed_) return asio::post(executor_, [then] { then(asio::error::operation_aborted); });
    if (want == Io::kWantRead && input_.empty() && !ended_) {
      reader_ = std::move(then);
      return;
    }
    asio::post(executor_, [then] { then({}); });
  }
  void Close() override {
    closed_ = true;
    WakeReader();
  }
  const std::string& error() const override { return error_; }
  const char* kind() const override { return "memory"; }
  const std::string& peer() const override { return peer_; }

 private:
  // 1..512 bytes, now and then everything.
  size_t Piece() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_ % 4 == 0 ? SIZE_MAX : 1 + state_ / 4 % 512;
  }
  void WakeReader() {
    if (!reader_) return;
    auto then = std::exchange(reader_, nullptr);
    std::error_code ec = closed_ ? std::error_code(asio::error::operation_aborted) : std::error_code();
    asio::post(executor_, [then, ec] { then(ec); });
  }

  asio::any_io_executor executor_;
  uint32_t state_;
  std::string input_;
  bool ended_ = false;
  bool closed_ = false;
  std::string sent_;
  size_t total_sent_ = 0;
  WaitHandler reader_;
  std::string error_ = "memory stream closed";
  std::string peer_ = "fuzz";
};

// A real AmqpConnection serving `hub` over `stream`, as AmqpServer makes them.
inline std::shared_ptr<amqp::AmqpConnection> ServeOn(AmqpHub& hub, std::unique_ptr<MemoryStream> stream) {
  return std::make_shared<amqp::AmqpConnection>(
      std::move(stream), hub.options,
      [&hub](amqp::AmqpConnection& c) { return std::make_unique<amqp::HubLinks>(c, hub.services); },
      amqp::PolicyPlainCheck(hub.services.sas, hub.services.entity.hub_name), transport::PendingSlot(hub.pending));
}

}  // namespace iothub::fuzz
