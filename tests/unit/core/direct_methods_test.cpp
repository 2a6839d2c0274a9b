#include "core/direct_methods.h"

#include <doctest/doctest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"
#include "unit/core/fake_connection.h"

namespace iothub {
namespace {

using namespace std::chrono_literals;
using testing::FakeConnection;
using testing::ManualTimers;

struct Hub {
  Hub() {
    DeviceSpec spec;
    spec.device_id = "dev1";
    REQUIRE(registry.Put(spec, Precondition{}).ok());
  }

  MethodCall Call(std::chrono::seconds response_timeout = 30s, std::chrono::seconds connect_timeout = 0s) {
    MethodCall call;
    call.method_name = "reboot";
    call.payload_json = R"({"delay":1})";
    call.response_timeout = response_timeout;
    call.connect_timeout = connect_timeout;
    return call;
  }
  // Invokes and keeps how the call ended, if it did.
  void Invoke(const MethodCall& call, const std::string& device_id = "dev1") {
    methods->Invoke(device_id, call, [this](Result<MethodResult> r) {
      ++endings;
      outcome.emplace(std::move(r));
    });
  }
  ErrorCode FailedWith() {
    REQUIRE(outcome);
    REQUIRE_FALSE(outcome->ok());
    return outcome->status().code();
  }

  storage::SqliteDatabase db{":memory:"};
  storage::SqliteDeviceStore devices{db};
  DeviceConnections connections{devices};
  Registry registry{devices, &connections};
  ManualTimers timers;
  std::optional<Result<MethodResult>> outcome;
  int endings = 0;
  // Last, so that calls it ends when destroyed still find the above.
  std::unique_ptr<DirectMethods> methods = std::make_unique<DirectMethods>(registry, connections, &timers);
};

}  // namespace

TEST_CASE_FIXTURE(Hub, "DirectMethods: the device's answer ends the call") {
  auto device = std::make_shared<FakeConnection>();
  connections.Attach("dev1", device);
  Invoke(Call());
  REQUIRE(device->method_requests.size() == 1);
  const auto& request = device->method_requests[0];
  CHECK(request.method_name == "reboot");
  CHECK(request.payload_json == R"({"delay":1})");
  CHECK_FALSE(outcome);
  methods->Complete("dev1", request.request_id, 201, R"({"ok":true})");
  REQUIRE(outcome);
  REQUIRE(outcome->ok());
  CHECK((*outcome)->status == 201);
  CHECK((*outcome)->payload_json == R"({"ok":true})");
  CHECK(timers.Scheduled() == 0);  // its timeout is gone
  timers.Advance(1h);
  CHECK(endings == 1);
}

TEST_CASE_FIXTURE(Hub, "DirectMethods: an empty answer is the JSON null") {
  auto device = std::make_shared<FakeConnection>();
  connections.Attach("dev1", device);
  Invoke(Call());
  methods->Complete("dev1", device->method_requests.at(0).request_id, 200, "");
  REQUIRE(outcome);
  CHECK((*outcome)->payload_json == "null");
}

TEST_CASE_FIXTURE(Hub, "DirectMethods: each call gets its own request id and answers find their call") {
  auto device = std::make_shared<FakeConnection>();
  connections.Attach("dev1", device);
  std::optional<Result<MethodResult>> second;
  Invoke(Call());
  methods->Invoke("dev1", Call(), [&](Result<MethodResult> r) { second.emplace(std::move(r)); });
  REQUIRE(device->method_requests.size() == 2);
  CHECK(device->method_requests[0].request_id != device->method_requests[1].request_id);
  methods->Complete("dev1", device->method_requests[1].request_id, 2, "2");
  CHECK_FALSE(outcome);
  REQUIRE(second);
  CHECK((*second)->status == 2);
}

TEST_CASE_FIXTURE(Hub, "DirectMethods: no answer within the response timeout is GatewayTimeout and a late one is ignored") {
  auto device = std::make_shared<FakeConnection>();
  connections.Attach("dev1", device);
  Invoke(Call(10s));
  timers.Advance(9s);
  CHECK_FALSE(outcome);
  timers.Advance(1s);
  CHECK(FailedWith() == ErrorCode::kGatewayTimeout);
  methods->Complete("dev1", device->method_requests.at(0).request_id, 200, "late");
  CHECK(endings == 1);
  CHECK_FALSE(outcome->ok());
}

TEST_CASE_FIXTURE(Hub, "DirectMethods: an answer from another device, or to another request, is ignored") {
  auto device = std::make_shared<FakeConnection>();
  connections.Attach("dev1", device);
  Invoke(Call());
  const std::string rid = device->method_requests.at(0).request_id;
  methods->Complete("dev2", rid, 200, "{}");
  methods->Complete("dev1", rid + "0", 200, "{}");
  CHECK_FALSE(outcome);
  methods->Complete("dev1", rid, 200, "{}");
  CHECK(outcome);
}

TEST_CASE_FIXTURE(Hub, "DirectMethods: with no connect timeout, a device that is not listening is DeviceNotOnline now") {
  SUBCASE("not connected") {}
  SUBCASE("connected without a methods subscription") {
    connections.Attach("dev1", std::make_shared<FakeConnection>(false));
  }
  Invoke(Call());
  CHECK(FailedWith() == ErrorCode::kDeviceNotOnline);
  CHECK(timers.Scheduled() == 0);
}

TEST_CASE_FIXTURE(Hub, "DirectMethods: an unknown device is DeviceNotFound") {
  Invoke(Call(), "nobody");
  CHECK(FailedWith() == ErrorCode::kDeviceNotFound);
}

TEST_CASE_FIXTURE(Hub, "DirectMethods: a device that connects within the connect timeout gets the call") {
  Invoke(Call(30s, 60s));
  timers.Advance(59s);
  CHECK_FALSE(outcome);
  auto device = std::make_shared<FakeConnection>();
  connections.Attach("dev1", device);  // no time passes: the connection itself delivers the call
  REQUIRE(device->method_requests.size() == 1);
  timers.Advance(29s);  // past the connect timeout, within the response timeout that started on delivery
  CHECK_FALSE(outcome);
  methods->Complete("dev1", device->method_requests[0].request_id, 200, "{}");
  REQUIRE(outcome);
  CHECK(outcome->ok());
}

TEST_CASE_FIXTURE(Hub, "DirectMethods: a device that subscribes to methods within the connect timeout gets the call") {
  auto device = std::make_shared<FakeConnection>(false);
  connections.Attach("dev1", device);
  Invoke(Call(5s, 60s));
  Invoke(Call(5s, 60s));
  CHECK(device->method_requests.empty());
  device->listens_for_methods = true;
  connections.MethodsSubscribed("dev1");
  CHECK(device->method_requests.size() == 2);
  timers.Advance(5s);  // the response timeout runs from delivery
  CHECK(endings == 2);
  CHECK(FailedWith() == ErrorCode::kGatewayTimeout);
}

TEST_CASE_FIXTURE(Hub, "DirectMethods: a device that does not come within the connect timeout is DeviceNotOnline") {
  Invoke(Call(30s, 20s));
  connections.Attach("dev1", std::make_shared<FakeConnection>(false));  // connected, never listening
  timers.Advance(19s);
  CHECK_FALSE(outcome);
  timers.Advance(1s);
  CHECK(FailedWith() == ErrorCode::kDeviceNotOnline);
  // A device that listens afterwards gets nothing.
  auto late = std::make_shared<FakeConnection>();
  connections.Attach("dev1", late);
  CHECK(late->method_requests.empty());
  CHECK(endings == 1);
}

TEST_CASE_FIXTURE(Hub, "DirectMethods: calls still open when it is destroyed end with ServiceUnavailable") {
  Invoke(Call(30s, 60s));
  methods.reset();
  CHECK(FailedWith() == ErrorCode::kServiceUnavailable);
  CHECK(timers.Scheduled() == 0);
}

TEST_CASE("TimerThread: runs callbacks in deadline order and never a cancelled one") {
  std::mutex mu;
  std::condition_variable ran_cv;
  std::vector<int> ran;
  auto record = [&](int n) {
    return [&, n] {
      std::lock_guard lock(mu);
      ran.push_back(n);
      ran_cv.notify_all();
    };
  };
  TimerThread timers;
  timers.After(60ms, record(3));
  const Timers::Id cancelled = timers.After(40ms, record(2));
  timers.After(20ms, record(1));
  CHECK(timers.Cancel(cancelled));
  CHECK_FALSE(timers.Cancel(cancelled));
  std::unique_lock lock(mu);
  REQUIRE(ran_cv.wait_for(lock, 10s, [&] { return ran.size() == 2; }));
  CHECK(ran == std::vector<int>{1, 3});
}

}  // namespace iothub
