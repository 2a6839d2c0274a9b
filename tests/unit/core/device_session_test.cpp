// The device session of core, driven as a protocol adapter drives it, without
// sockets: the stores are SQLite in memory, the connection a recording fake.
#include "core/device_session.h"

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "storage/sqlite_cloud_to_device_store.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"
#include "storage/sqlite_event_store.h"
#include "storage/sqlite_subscription_store.h"
#include "storage/sqlite_twin_store.h"

namespace iothub {
namespace {

// What the hub asked of a connection.
class FakeConnection : public DeviceConnections::Connection {
 public:
  void Close(std::string_view reason) override {
    std::lock_guard lock(mu_);
    closed_because_ = std::string(reason);
  }
  bool SendMethodRequest(const std::string& method_name, const std::string& request_id,
                         const std::string& payload_json) override {
    std::lock_guard lock(mu_);
    method_requests_.push_back(method_name + " " + request_id + " " + payload_json);
    method_request_ids_.set_value(request_id);
    return true;
  }
  void CloudToDeviceWaiting() override {}
  void SendDesiredPropertiesPatch(int64_t, const std::string&) override {}

  std::optional<std::string> closed_because() {
    std::lock_guard lock(mu_);
    return closed_because_;
  }
  std::future<std::string> next_method_request_id() { return method_request_ids_.get_future(); }

 private:
  std::mutex mu_;
  std::optional<std::string> closed_because_;
  std::vector<std::string> method_requests_;
  std::promise<std::string> method_request_ids_;
};

struct Hub {
  Hub() { REQUIRE(registry.Put(DeviceSpec{.device_id = "dev1"}, Precondition{}).ok()); }

  ConnectionInfo Dev1(std::optional<std::string> model_id = std::nullopt) {
    return {AuthenticatedDevice{"dev1", "638000000000000001", "sas", 0}, std::move(model_id), std::nullopt};
  }
  std::unique_ptr<DeviceSession> Session(bool lasting = false) {
    return std::make_unique<DeviceSession>(services, Dev1(), lasting);
  }
  // Sends telemetry and waits until the log says it is stored.
  Status SendAndWait(DeviceSession& session, TelemetryMessage message) {
    auto done = std::make_shared<std::promise<Status>>();
    auto stored = done->get_future();
    session.SendTelemetry(std::move(message), [done](const Status& s) { done->set_value(s); });
    if (stored.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return Status::ServerError("not committed within 10 s");
    }
    return stored.get();
  }
  std::vector<Event> Events() { return event_log.Read(EventQuery{.device_id = "dev1"}); }

  storage::SqliteDatabase db{":memory:"};
  storage::SqliteDeviceStore devices{db};
  storage::SqliteSubscriptionStore subscription_store{db};
  storage::SqliteTwinStore twin_store{db};
  storage::SqliteEventStore event_store{db};
  DeviceConnections connections{devices};
  Registry registry{devices, &connections};
  DirectMethods methods{registry, connections};
  Twins twins{twin_store, registry, connections};
  EventLog event_log{event_store, {1, std::chrono::hours(1), 4096, {}}};
  storage::SqliteCloudToDeviceStore c2d_store{db};
  CloudToDevice cloud_to_device{c2d_store, registry, connections};
  DeviceServices services{connections, event_log, subscription_store, methods, twins, cloud_to_device};
};

TelemetryMessage Message(std::string body) {
  TelemetryMessage m;
  m.body = std::move(body);
  m.properties.message_id = "m-1";
  m.application_properties = {{"alert", "high"}};
  return m;
}

std::optional<std::string> Find(const Properties& properties, const std::string& key) {
  for (const auto& [k, v] : properties) {
    if (k == key) return v;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE_FIXTURE(Hub, "DeviceSession: telemetry is committed as an event of its connection, then the callback runs") {
  auto connection = std::make_shared<FakeConnection>();
  DeviceSession session(services, Dev1("dtmi:com:example:Thermostat;1"), false);
  REQUIRE(session.Open(connection).ok());

  CHECK(SendAndWait(session, Message("21.5")).ok());
  CHECK(session.in_flight() == 0);
  auto events = Events();
  REQUIRE(events.size() == 1);
  CHECK(events[0].body == "21.5");
  CHECK(events[0].properties.message_id == "m-1");
  CHECK(Find(events[0].application_properties, "alert") == "high");
  CHECK(Find(events[0].annotations, "iothub-connection-device-id") == "dev1");
  CHECK(Find(events[0].annotations, "iothub-connection-auth-method") == "sas");
  CHECK(Find(events[0].annotations, "dt-dataschema") == "dtmi:com:example:Thermostat;1");
  CHECK(Find(events[0].annotations, "iothub-message-source") == "Telemetry");
  CHECK(connections.ConnectedCount() == 1);
}

TEST_CASE_FIXTURE(Hub, "DeviceSession: the will is stored when the connection ends uncleanly, not when cleanly") {
  {
    auto connection = std::make_shared<FakeConnection>();
    auto polite = Session();
    REQUIRE(polite->Open(connection).ok());
    polite->SetWill(Message("goodbye will"));
    polite->End(DeviceSession::Ending::kClean);
  }
  auto connection = std::make_shared<FakeConnection>();
  auto lost = Session();
  REQUIRE(lost->Open(connection).ok());
  lost->SetWill(Message("offline"));
  lost->End(DeviceSession::Ending::kUnclean);
  lost->End(DeviceSession::Ending::kUnclean);  // once only
  CHECK(connections.ConnectedCount() == 0);

  // The log commits in order: once this marker is stored, any will before it is too.
  auto marker = Session();
  REQUIRE(marker->Open(std::make_shared<FakeConnection>()).ok());
  REQUIRE(SendAndWait(*marker, Message("marker")).ok());
  auto events = Events();
  REQUIRE(events.size() == 2);
  CHECK(events[0].body == "offline");
  CHECK(Find(events[0].application_properties, "iothub-MessageType") == "Will");
  CHECK(Find(events[0].application_properties, "alert") == "high");
  CHECK(events[1].body == "marker");
}

TEST_CASE_FIXTURE(Hub, "DeviceSession: a twin get and a reported patch answer 200 and 204 in IoT Hub's shape") {
  auto session = Session();
  REQUIRE(session->Open(std::make_shared<FakeConnection>()).ok());

  TwinReply got = session->GetTwin();
  CHECK(got.status == 200);
  auto body = nlohmann::json::parse(got.body);
  CHECK(body["desired"]["$version"] == 1);
  CHECK(body["reported"]["$version"] == 1);

  TwinReply patched = session->PatchReportedProperties(R"({"temperature":21,"firmware":{"version":"1.2"}})");
  CHECK(patched.status == 204);
  CHECK(patched.body.empty());
  CHECK(patched.version == 2);

  body = nlohmann::json::parse(session->GetTwin().body);
  CHECK(body["reported"]["temperature"] == 21);
  CHECK(body["reported"]["firmware"]["version"] == "1.2");
  CHECK(body["reported"]["$version"] == 2);
}

TEST_CASE_FIXTURE(Hub, "DeviceSession: a failed twin request answers the error's status and an errorCode body") {
  auto session = Session();
  REQUIRE(session->Open(std::make_shared<FakeConnection>()).ok());

  TwinReply malformed = session->PatchReportedProperties("{not json");
  CHECK(malformed.status == 400);
  CHECK_FALSE(malformed.version);
  auto body = nlohmann::json::parse(malformed.body);
  CHECK(body["errorCode"].get<int>() / 1000 == 400);
  CHECK(body["message"].get<std::string>().find("reported-properties patch") != std::string::npos);

  TwinReply not_an_object = session->PatchReportedProperties("[1,2]");
  CHECK(not_an_object.status == 400);
  CHECK(not_an_object.body == R"({"errorCode":400004,"message":"A reported-properties patch must be a JSON object"})");
  CHECK(nlohmann::json::parse(session->GetTwin().body)["reported"]["$version"] == 1);  // nothing changed
}

TEST_CASE_FIXTURE(Hub, "DeviceSession: a new connection of the device takes over and closes the old one") {
  auto first_connection = std::make_shared<FakeConnection>();
  auto first = Session();
  REQUIRE(first->Open(first_connection).ok());
  CHECK_FALSE(first_connection->closed_because());

  auto second_connection = std::make_shared<FakeConnection>();
  auto second = Session();
  REQUIRE(second->Open(second_connection).ok());
  CHECK(first_connection->closed_because().has_value());
  CHECK_FALSE(second_connection->closed_because());

  // The old session ending (as its Close makes it) leaves the new one the device's connection.
  first->End(DeviceSession::Ending::kUnclean);
  CHECK(connections.ConnectedCount() == 1);
  CHECK(second->Subscribe({Feed::kMethods}).ok());
  CHECK(connections.SendMethodRequest("dev1", "reboot", "1", "{}"));
}

TEST_CASE_FIXTURE(Hub, "DeviceSession: a method request reaches a listening device, and its answer completes the call") {
  auto connection = std::make_shared<FakeConnection>();
  auto session = Session();
  REQUIRE(session->Open(connection).ok());
  CHECK_FALSE(session->listens_for_methods());
  REQUIRE(session->Subscribe({Feed::kMethods}).ok());
  CHECK(session->listens_for_methods());

  auto request_id = connection->next_method_request_id();
  auto answered = std::make_shared<std::promise<Result<MethodResult>>>();
  auto call = answered->get_future();
  methods.Invoke("dev1", MethodCall{"reboot", R"({"delay":1})", std::chrono::seconds(10), {}},
                 [answered](Result<MethodResult> r) { answered->set_value(std::move(r)); });
  REQUIRE(request_id.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  session->CompleteMethod(request_id.get(), 200, R"({"rebooted":true})");
  REQUIRE(call.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  auto result = call.get();
  REQUIRE(result.ok());
  CHECK(result->status == 200);
  CHECK(result->payload_json == R"({"rebooted":true})");
}

TEST_CASE_FIXTURE(Hub, "DeviceSession: a lasting session keeps its feeds for the next connection, a clean one forgets them") {
  {
    auto lasting = Session(/*lasting=*/true);
    auto found = lasting->Open(std::make_shared<FakeConnection>());
    REQUIRE(found.ok());
    CHECK_FALSE(*found);
    REQUIRE(lasting->Subscribe({Feed::kCloudToDevice, Feed::kMethods, Feed::kTwinResponses}).ok());
    REQUIRE(lasting->Unsubscribe({Feed::kTwinResponses}).ok());
    lasting->End(DeviceSession::Ending::kClean);
  }
  {
    auto again = Session(true);
    auto found = again->Open(std::make_shared<FakeConnection>());
    REQUIRE(found.ok());
    CHECK(*found);
    CHECK(again->subscriptions() == Subscriptions{Feed::kCloudToDevice, Feed::kMethods});
    CHECK(again->listens_for_methods());
    again->End(DeviceSession::Ending::kClean);
  }
  {
    auto clean = Session(false);
    REQUIRE(clean->Open(std::make_shared<FakeConnection>()).ok());
    CHECK(clean->subscriptions().empty());
    clean->End(DeviceSession::Ending::kClean);
  }
  auto after_clean = Session(true);
  auto found = after_clean->Open(std::make_shared<FakeConnection>());
  REQUIRE(found.ok());
  CHECK_FALSE(*found);
}

}  // namespace iothub

namespace iothub {

TEST_CASE_FIXTURE(Hub, "DeviceSession: cloud-to-device messages are leased while it listens, settled, and given back when it ends") {
  CloudToDeviceMessage m;
  m.device_id = "dev1";
  m.body = "hello";
  REQUIRE(cloud_to_device.Send(m).ok());
  REQUIRE(cloud_to_device.Send(m).ok());

  auto first = Session();
  REQUIRE(first->Open(std::make_shared<FakeConnection>()).ok());
  CHECK(first->LeaseCloudToDevice().empty());  // not listening yet
  REQUIRE(first->Subscribe({Feed::kCloudToDevice}).ok());
  auto leased = first->LeaseCloudToDevice();
  REQUIRE(leased.size() == 2);
  CHECK(first->LeaseCloudToDevice().empty());  // both on their way already
  CHECK(first->SettleCloudToDevice(leased[0].lock_token, DeviceSession::Settlement::kComplete).ok());
  auto lock_lost = [](const Status& s) { return !s.ok() && s.code() == ErrorCode::kDeviceMessageLockLost; };
  CHECK(lock_lost(first->SettleCloudToDevice(leased[0].lock_token, DeviceSession::Settlement::kComplete)));  // once
  first->End(DeviceSession::Ending::kUnclean);  // the second was never settled

  auto second = Session();
  REQUIRE(second->Open(std::make_shared<FakeConnection>()).ok());
  REQUIRE(second->Subscribe({Feed::kCloudToDevice}).ok());
  CHECK(lock_lost(second->SettleCloudToDevice(leased[1].lock_token, DeviceSession::Settlement::kComplete)));  // not its own
  auto again = second->LeaseCloudToDevice();  // back in the queue at once, not after its lock
  REQUIRE(again.size() == 1);
  CHECK(again[0].message.body == "hello");
  CHECK(second->SettleCloudToDevice(again[0].lock_token, DeviceSession::Settlement::kReject).ok());
  CHECK(cloud_to_device.Count("dev1") == 0);
}

}  // namespace iothub
