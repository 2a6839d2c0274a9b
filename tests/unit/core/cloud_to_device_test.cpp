#include "core/cloud_to_device.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <memory>

#include "core/cloud_to_device_feedback.h"
#include "storage/sqlite_cloud_to_device_store.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"
#include "unit/core/fake_connection.h"

namespace iothub {
namespace {

using namespace std::chrono_literals;
using testing::FakeConnection;

// A hub with devices dev1 and dev2 whose clock moves only when a test moves it.
struct Hub {
  explicit Hub(const std::string& db_path = ":memory:") : db(db_path) {
    for (const char* id : {"dev1", "dev2"}) {
      DeviceSpec spec;
      spec.device_id = id;
      if (!registry.Get(id).ok()) REQUIRE(registry.Put(spec, Precondition{}).ok());
    }
  }

  CloudToDeviceMessage Message(std::string message_id, std::string ack = "none", std::string device_id = "dev1") {
    CloudToDeviceMessage m;
    m.device_id = std::move(device_id);
    m.body = "body of " + message_id;
    m.properties.message_id = std::move(message_id);
    m.ack = std::move(ack);
    return m;
  }
  CloudToDeviceDelivery LeaseOne(const std::string& device_id = "dev1") {
    auto leased = c2d.Lease(device_id, 1);
    REQUIRE(leased.size() == 1);
    return leased.front();
  }
  std::vector<FeedbackRecord> AllFeedback() {
    std::vector<FeedbackRecord> out;
    while (auto batch = feedback.Receive()) {
      out.insert(out.end(), batch->records.begin(), batch->records.end());
      REQUIRE(feedback.Complete(batch->lock_token).ok());
    }
    return out;
  }

  TimePoint now = TimePoint(std::chrono::seconds(1'750'000'000));
  storage::SqliteDatabase db;
  storage::SqliteDeviceStore devices{db};
  DeviceConnections connections{devices};
  Registry registry{devices, &connections};
  storage::SqliteCloudToDeviceStore store{db};
  CloudToDevice c2d{store, registry, connections, [this] { return now; }};
  CloudToDeviceFeedback feedback{store, [this] { return now; }};
};

bool IsGuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

}  // namespace

TEST_CASE_FIXTURE(Hub, "CloudToDevice: a received message is locked under a GUID lock token and counted") {
  REQUIRE(c2d.Send(Message("m1")).ok());
  auto d = LeaseOne();
  CHECK(IsGuid(d.lock_token));
  CHECK(d.message.body == "body of m1");
  CHECK(d.message.delivery_count == 1);
  CHECK(d.message.lock_expiry == now + 60s);
  CHECK(d.message.device_generation_id == registry.Get("dev1")->generation_id);
  CHECK(c2d.Lease("dev1", 10).empty());  // Invisible
  CHECK(c2d.Count("dev1") == 1);         // but still waiting for the device
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: lease hands out at most max messages, oldest first, and only the device's own") {
  for (const char* id : {"m1", "m2", "m3"}) REQUIRE(c2d.Send(Message(id)).ok());
  REQUIRE(c2d.Send(Message("other", "none", "dev2")).ok());
  auto leased = c2d.Lease("dev1", 2);
  REQUIRE(leased.size() == 2);
  CHECK(leased[0].message.properties.message_id == "m1");
  CHECK(leased[1].message.properties.message_id == "m2");
  CHECK(leased[0].lock_token != leased[1].lock_token);
  auto rest = c2d.Lease("dev1", 10);
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].message.properties.message_id == "m3");
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: complete removes the message and the same token again is DeviceMessageLockLost") {
  REQUIRE(c2d.Send(Message("m1")).ok());
  auto d = LeaseOne();
  CHECK(c2d.Complete("dev1", d.lock_token).ok());
  CHECK(c2d.Count("dev1") == 0);
  Status again = c2d.Complete("dev1", d.lock_token);
  REQUIRE_FALSE(again.ok());
  CHECK(again.code() == ErrorCode::kDeviceMessageLockLost);
  CHECK(ErrorCodeNumber(again.code()) == 412002);
  CHECK(std::string(ErrorCodeName(again.code())) == "DeviceMessageLockLost");
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: a wrong token, or another device's, settles nothing") {
  REQUIRE(c2d.Send(Message("m1")).ok());
  auto d = LeaseOne();
  for (const std::string& token : {std::string(""), std::string("00000000-0000-4000-8000-000000000000")}) {
    CHECK(c2d.Complete("dev1", token).code() == ErrorCode::kDeviceMessageLockLost);
    CHECK(c2d.Abandon("dev1", token).code() == ErrorCode::kDeviceMessageLockLost);
    CHECK(c2d.Reject("dev1", token).code() == ErrorCode::kDeviceMessageLockLost);
  }
  CHECK(c2d.Complete("dev2", d.lock_token).code() == ErrorCode::kDeviceMessageLockLost);
  CHECK(c2d.Count("dev1") == 1);
  CHECK(c2d.Complete("dev1", d.lock_token).ok());
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: a lock that runs out puts the message back and its old token is then lost") {
  REQUIRE(c2d.Send(Message("m1")).ok());
  auto first = LeaseOne();
  now += 59s;
  CHECK(c2d.Lease("dev1", 10).empty());
  now += 1s;  // a minute: the lock is gone
  CHECK(c2d.Complete("dev1", first.lock_token).code() == ErrorCode::kDeviceMessageLockLost);
  auto second = LeaseOne();
  CHECK(second.message.properties.message_id == "m1");
  CHECK(second.message.delivery_count == 2);
  CHECK(second.lock_token != first.lock_token);
  CHECK(c2d.Complete("dev1", first.lock_token).code() == ErrorCode::kDeviceMessageLockLost);
  CHECK(c2d.Complete("dev1", second.lock_token).ok());
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: abandon puts the message back at once and tells the device's connection") {
  auto connection = std::make_shared<FakeConnection>();
  connections.Attach("dev1", connection);
  REQUIRE(c2d.Send(Message("m1")).ok());
  CHECK(connection->cloud_to_device_waiting == 1);
  auto d = LeaseOne();
  CHECK(c2d.Abandon("dev1", d.lock_token).ok());
  CHECK(connection->cloud_to_device_waiting == 2);
  auto again = LeaseOne();
  CHECK(again.message.delivery_count == 2);
  CHECK(c2d.Abandon("dev1", d.lock_token).code() == ErrorCode::kDeviceMessageLockLost);
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: reject dead-letters the message") {
  REQUIRE(c2d.Send(Message("m1")).ok());
  auto d = LeaseOne();
  CHECK(c2d.Reject("dev1", d.lock_token).ok());
  CHECK(c2d.Count("dev1") == 0);
  CHECK(c2d.Lease("dev1", 10).empty());
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: release (the connection dropped) puts it back without counting the delivery") {
  auto connection = std::make_shared<FakeConnection>();
  connections.Attach("dev1", connection);
  REQUIRE(c2d.Send(Message("m1")).ok());
  auto d = LeaseOne();
  CHECK(d.message.delivery_count == 1);
  const int told = connection->cloud_to_device_waiting;
  c2d.Release("dev1", d.lock_token);
  CHECK(connection->cloud_to_device_waiting == told + 1);  // a connection that took over gets it
  auto again = LeaseOne();
  CHECK(again.message.delivery_count == 1);
  c2d.Release("dev1", d.lock_token);  // no longer its token: nothing happens
  CHECK(c2d.Lease("dev1", 10).empty());
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: after 10 deliveries an abandoned message is dead-lettered with feedback") {
  REQUIRE(c2d.Send(Message("m1", "negative")).ok());
  for (int delivery = 1; delivery <= CloudToDevice::kMaxDeliveryCount; ++delivery) {
    CAPTURE(delivery);
    auto d = LeaseOne();
    CHECK(d.message.delivery_count == delivery);
    REQUIRE(c2d.Abandon("dev1", d.lock_token).ok());
  }
  CHECK(c2d.Count("dev1") == 0);
  auto records = AllFeedback();
  REQUIRE(records.size() == 1);
  CHECK(records[0].status == FeedbackStatus::kDeliveryCountExceeded);
  CHECK(records[0].original_message_id == "m1");
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: a message whose lock ran out 10 times is not delivered an 11th time") {
  REQUIRE(c2d.Send(Message("m1", "full")).ok());
  for (int delivery = 1; delivery <= CloudToDevice::kMaxDeliveryCount; ++delivery) {
    LeaseOne();
    now += CloudToDevice::kLockDuration;
  }
  CHECK(c2d.Lease("dev1", 10).empty());
  CHECK(c2d.Count("dev1") == 0);
  auto records = AllFeedback();
  REQUIRE(records.size() == 1);
  CHECK(records[0].status == FeedbackStatus::kDeliveryCountExceeded);
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: a message past its expiry time is not delivered and makes Expired feedback") {
  auto m = Message("m1", "negative");
  m.expiry_time = now + 10s;
  const TimePoint expiry = m.expiry_time;
  REQUIRE(c2d.Send(m).ok());
  REQUIRE(c2d.Send(Message("m2")).ok());  // default time to live: an hour
  now += 10s;
  CHECK(c2d.Count("dev1") == 1);
  auto leased = c2d.Lease("dev1", 10);
  REQUIRE(leased.size() == 1);
  CHECK(leased[0].message.properties.message_id == "m2");
  auto records = AllFeedback();
  REQUIRE(records.size() == 1);
  CHECK(records[0].status == FeedbackStatus::kExpired);
  CHECK(records[0].enqueued_time == expiry);
  now += 3600s;
  CHECK(c2d.Count("dev1") == 0);
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: a sweep expires the messages of devices that never ask") {
  REQUIRE(c2d.Send(Message("a", "full", "dev1")).ok());
  REQUIRE(c2d.Send(Message("b", "full", "dev2")).ok());
  CHECK(c2d.Sweep() == 0);
  now += CloudToDevice::kDefaultTimeToLive;
  CHECK(c2d.Sweep() == 2);
  CHECK(c2d.Sweep() == 0);
  auto records = AllFeedback();
  REQUIRE(records.size() == 2);
  CHECK(records[0].device_id == "dev1");
  CHECK(records[1].device_id == "dev2");
  CHECK(records[1].status == FeedbackStatus::kExpired);
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: a device's queue holds 50 and leased messages still take their place") {
  for (int i = 0; i < CloudToDevice::kMaxQueueDepth; ++i) REQUIRE(c2d.Send(Message("m" + std::to_string(i))).ok());
  CHECK(c2d.Lease("dev1", 10).size() == 10);
  auto full = c2d.Send(Message("one too many"));
  REQUIRE_FALSE(full.ok());
  CHECK(full.status().code() == ErrorCode::kDeviceMaximumQueueDepthExceeded);
  CHECK(c2d.Send(Message("other device", "none", "dev2")).ok());
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: unknown devices are DeviceNotFound") {
  CHECK(c2d.Send(Message("m1", "none", "nobody")).status().code() == ErrorCode::kDeviceNotFound);
  CHECK(c2d.Purge("nobody").status().code() == ErrorCode::kDeviceNotFound);
}

TEST_CASE_FIXTURE(Hub, "CloudToDevice: purge empties the queue, locked messages too") {
  REQUIRE(c2d.Send(Message("m1", "full")).ok());
  REQUIRE(c2d.Send(Message("m2", "full")).ok());
  auto d = LeaseOne();
  auto purged = c2d.Purge("dev1");
  REQUIRE(purged.ok());
  CHECK(*purged == 2);
  CHECK(c2d.Count("dev1") == 0);
  CHECK(c2d.Complete("dev1", d.lock_token).code() == ErrorCode::kDeviceMessageLockLost);
  auto records = AllFeedback();
  REQUIRE(records.size() == 2);
  CHECK(records[0].status == FeedbackStatus::kPurged);
}

// Which outcomes make a feedback record, by the message's ack (spec §7).
TEST_CASE("CloudToDevice: the ack decides which outcomes make feedback") {
  enum class End { kComplete, kReject, kExpire, kPurge, kDeadLetter };
  struct Case {
    const char* ack;
    End end;
    bool feedback;
    FeedbackStatus status;
  };
  const Case cases[] = {
      {"none", End::kComplete, false, FeedbackStatus::kSuccess},
      {"none", End::kReject, false, FeedbackStatus::kRejected},
      {"none", End::kExpire, false, FeedbackStatus::kExpired},
      {"none", End::kPurge, false, FeedbackStatus::kPurged},
      {"positive", End::kComplete, true, FeedbackStatus::kSuccess},
      {"positive", End::kReject, false, FeedbackStatus::kRejected},
      {"positive", End::kExpire, false, FeedbackStatus::kExpired},
      {"positive", End::kDeadLetter, false, FeedbackStatus::kDeliveryCountExceeded},
      {"negative", End::kComplete, false, FeedbackStatus::kSuccess},
      {"negative", End::kReject, true, FeedbackStatus::kRejected},
      {"negative", End::kExpire, true, FeedbackStatus::kExpired},
      {"negative", End::kPurge, true, FeedbackStatus::kPurged},
      {"negative", End::kDeadLetter, true, FeedbackStatus::kDeliveryCountExceeded},
      {"full", End::kComplete, true, FeedbackStatus::kSuccess},
      {"full", End::kReject, true, FeedbackStatus::kRejected},
      {"full", End::kExpire, true, FeedbackStatus::kExpired},
      {"full", End::kPurge, true, FeedbackStatus::kPurged},
  };
  for (const Case& c : cases) {
    CAPTURE(c.ack);
    CAPTURE(static_cast<int>(c.end));
    Hub hub;
    REQUIRE(hub.c2d.Send(hub.Message("m1", c.ack)).ok());
    switch (c.end) {
      case End::kComplete: REQUIRE(hub.c2d.Complete("dev1", hub.LeaseOne().lock_token).ok()); break;
      case End::kReject: REQUIRE(hub.c2d.Reject("dev1", hub.LeaseOne().lock_token).ok()); break;
      case End::kExpire:
        hub.now += CloudToDevice::kDefaultTimeToLive;
        REQUIRE(hub.c2d.Sweep() == 1);
        break;
      case End::kPurge: REQUIRE(hub.c2d.Purge("dev1").ok()); break;
      case End::kDeadLetter:
        for (int i = 0; i < CloudToDevice::kMaxDeliveryCount; ++i) {
          REQUIRE(hub.c2d.Abandon("dev1", hub.LeaseOne().lock_token).ok());
        }
        break;
    }
    REQUIRE(hub.c2d.Count("dev1") == 0);
    auto records = hub.AllFeedback();
    REQUIRE(records.size() == (c.feedback ? 1u : 0u));
    if (c.feedback) CHECK(records[0].status == c.status);
  }
}

TEST_CASE_FIXTURE(Hub, "Feedback: a record names the message, the device and its generation, and when it ended") {
  REQUIRE(c2d.Send(Message("m1", "positive")).ok());
  auto d = LeaseOne();
  now += 5s;
  REQUIRE(c2d.Complete("dev1", d.lock_token).ok());
  auto batch = feedback.Receive();
  REQUIRE(batch);
  CHECK(IsGuid(batch->lock_token));
  REQUIRE(batch->records.size() == 1);
  const FeedbackRecord& r = batch->records[0];
  CHECK(r.original_message_id == "m1");
  CHECK(r.device_id == "dev1");
  CHECK(r.device_generation_id == registry.Get("dev1")->generation_id);
  CHECK_FALSE(r.device_generation_id.empty());
  CHECK(r.enqueued_time == now);
  CHECK(std::string(FeedbackStatusName(r.status)) == "Success");
  CHECK(r.description == "Success");
}

TEST_CASE_FIXTURE(Hub, "Feedback: a received batch is locked until completed and abandon gives it back") {
  for (const char* id : {"m1", "m2"}) {
    REQUIRE(c2d.Send(Message(id, "positive")).ok());
    REQUIRE(c2d.Complete("dev1", LeaseOne().lock_token).ok());
  }
  auto batch = feedback.Receive();
  REQUIRE(batch);
  CHECK(batch->records.size() == 2);
  CHECK_FALSE(feedback.Receive());  // locked
  CHECK(feedback.Abandon(batch->lock_token).ok());
  CHECK(feedback.Abandon(batch->lock_token).code() == ErrorCode::kDeviceMessageLockLost);
  auto again = feedback.Receive(1);
  REQUIRE(again);
  REQUIRE(again->records.size() == 1);
  CHECK(again->records[0].original_message_id == "m1");
  CHECK(feedback.Complete(again->lock_token).ok());
  CHECK(feedback.Complete(again->lock_token).code() == ErrorCode::kDeviceMessageLockLost);
  auto last = feedback.Receive();
  REQUIRE(last);
  REQUIRE(last->records.size() == 1);
  CHECK(last->records[0].original_message_id == "m2");
}

TEST_CASE_FIXTURE(Hub, "Feedback: a batch whose lock ran out comes again and its token is lost") {
  REQUIRE(c2d.Send(Message("m1", "full")).ok());
  REQUIRE(c2d.Reject("dev1", LeaseOne().lock_token).ok());
  auto batch = feedback.Receive();
  REQUIRE(batch);
  now += CloudToDeviceFeedback::kLockDuration;
  CHECK(feedback.Complete(batch->lock_token).code() == ErrorCode::kDeviceMessageLockLost);
  auto again = feedback.Receive();
  REQUIRE(again);
  CHECK(again->records[0].status == FeedbackStatus::kRejected);
  CHECK(feedback.Complete(again->lock_token).ok());
  CHECK_FALSE(feedback.Receive());
}

TEST_CASE_FIXTURE(Hub, "Feedback: at most 64 records a batch, and records nobody reads for an hour are dropped") {
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < CloudToDevice::kMaxQueueDepth; ++i) REQUIRE(c2d.Send(Message("m", "full")).ok());
    REQUIRE(c2d.Purge("dev1").ok());
  }
  auto batch = feedback.Receive(1000);
  REQUIRE(batch);
  CHECK(batch->records.size() == CloudToDeviceFeedback::kMaxBatch);
  REQUIRE(feedback.Abandon(batch->lock_token).ok());
  now += CloudToDeviceFeedback::kTimeToLive;
  CHECK_FALSE(feedback.Receive());
}

TEST_CASE("CloudToDevice: queues, locks and feedback survive a restart") {
  auto dir = std::filesystem::temp_directory_path() / "iothub-emulator-unit";
  std::filesystem::create_directories(dir);
  auto path = (dir / ("c2d-restart-" + std::to_string(::getpid()) + ".db")).string();
  std::filesystem::remove(path);
  std::string token;
  TimePoint now;
  {
    Hub hub(path);
    now = hub.now;
    REQUIRE(hub.c2d.Send(hub.Message("done", "positive")).ok());
    REQUIRE(hub.c2d.Complete("dev1", hub.LeaseOne().lock_token).ok());
    REQUIRE(hub.c2d.Send(hub.Message("locked")).ok());
    token = hub.LeaseOne().lock_token;
  }
  Hub hub(path);
  hub.now = now;
  CHECK(hub.c2d.Lease("dev1", 10).empty());  // still locked
  CHECK(hub.c2d.Complete("dev1", token).ok());
  auto records = hub.AllFeedback();
  REQUIRE(records.size() == 1);
  CHECK(records[0].original_message_id == "done");
  std::filesystem::remove(path);
}

}  // namespace iothub

namespace iothub {

TEST_CASE_FIXTURE(Hub, "CloudToDevice: OnFeedback is told when feedback records are stored, not when none are made") {
  int told = 0;
  size_t readable_when_told = 0;
  auto subscription = c2d.OnFeedback([&] {
    ++told;
    // Told after the records are stored: a reader woken by it finds them.
    if (auto batch = feedback.Receive()) {
      readable_when_told += batch->records.size();
      REQUIRE(feedback.Abandon(batch->lock_token).ok());
    }
  });
  REQUIRE(c2d.Send(Message("quiet", "none")).ok());
  REQUIRE(c2d.Complete("dev1", LeaseOne().lock_token).ok());  // ack none: no record
  CHECK(told == 0);

  REQUIRE(c2d.Send(Message("loud", "positive")).ok());
  REQUIRE(c2d.Complete("dev1", LeaseOne().lock_token).ok());
  CHECK(told == 1);
  CHECK(readable_when_told == 1);

  REQUIRE(c2d.Send(Message("purged", "negative")).ok());
  REQUIRE(c2d.Purge("dev1").ok());
  CHECK(told == 2);

  CloudToDeviceMessage expiring = Message("expired", "full");
  expiring.expiry_time = now + 1s;
  REQUIRE(c2d.Send(expiring).ok());
  now += 2s;
  CHECK(c2d.Sweep() == 1);
  CHECK(told == 3);

  subscription.Reset();  // unsubscribed: told no more
  REQUIRE(c2d.Send(Message("after", "full")).ok());
  REQUIRE(c2d.Reject("dev1", LeaseOne().lock_token).ok());
  CHECK(told == 3);
  CHECK(AllFeedback().size() == 4);
}

}  // namespace iothub
