#include "core/device_connections.h"

#include <doctest/doctest.h>

#include <memory>

#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"
#include "unit/core/fake_connection.h"

namespace iothub {
namespace {

using testing::FakeConnection;

struct Hub {
  storage::SqliteDatabase db{":memory:"};
  storage::SqliteDeviceStore devices{db};
  DeviceConnections connections{devices};

  Device Overlaid(const std::string& id) const {
    Device d;
    d.device_id = id;
    connections.Overlay(d);
    return d;
  }
};

}  // namespace

TEST_CASE_FIXTURE(Hub, "DeviceConnections: a new connection replaces the old one, which is closed") {
  auto first = std::make_shared<FakeConnection>();
  auto second = std::make_shared<FakeConnection>();
  connections.Attach("dev1", first);
  CHECK(first->closed.empty());
  connections.Attach("dev1", second);
  REQUIRE(first->closed.size() == 1);
  CHECK(first->closed[0].find("replaced") != std::string::npos);
  CHECK(second->closed.empty());
  CHECK(connections.ConnectedCount() == 1);
  // What is for the device now goes to the new connection only.
  CHECK(connections.SendMethodRequest("dev1", "m", "1", "null"));
  connections.NotifyCloudToDevice("dev1");
  connections.SendDesiredPropertiesPatch("dev1", 7, R"({"$version":7})");
  CHECK(first->method_requests.empty());
  CHECK(first->cloud_to_device_waiting == 0);
  CHECK(first->patches.empty());
  CHECK(second->method_requests.size() == 1);
  CHECK(second->cloud_to_device_waiting == 1);
  REQUIRE(second->patches.size() == 1);
  CHECK(second->patches[0].first == 7);
}

TEST_CASE_FIXTURE(Hub, "DeviceConnections: attaching the same connection again does not close it") {
  auto only = std::make_shared<FakeConnection>();
  connections.Attach("dev1", only);
  connections.Attach("dev1", only);
  CHECK(only->closed.empty());
  CHECK(connections.ConnectedCount() == 1);
}

TEST_CASE_FIXTURE(Hub, "DeviceConnections: detach forgets a connection only if it is still the current one") {
  auto first = std::make_shared<FakeConnection>();
  auto second = std::make_shared<FakeConnection>();
  connections.Attach("dev1", first);
  connections.Attach("dev1", second);
  connections.Detach("dev1", first.get());  // the replaced one ends late
  CHECK(Overlaid("dev1").connected);
  CHECK(connections.ConnectedCount() == 1);
  CHECK(connections.SendMethodRequest("dev1", "m", "1", "null"));
  connections.Detach("dev1", second.get());
  CHECK_FALSE(Overlaid("dev1").connected);
  CHECK(connections.ConnectedCount() == 0);
  CHECK_FALSE(connections.SendMethodRequest("dev1", "m", "2", "null"));
  connections.Detach("dev1", second.get());  // twice is harmless
  CHECK(connections.ConnectedCount() == 0);
}

TEST_CASE_FIXTURE(Hub, "DeviceConnections: presence overlays connection state and times on a device") {
  Device untouched = Overlaid("never-seen");
  CHECK_FALSE(untouched.connected);
  CHECK(untouched.connection_state_updated_time == kNever);

  const TimePoint before = Clock::now();
  auto connection = std::make_shared<FakeConnection>();
  connections.Attach("dev1", connection);
  Device connected = Overlaid("dev1");
  CHECK(connected.connected);
  CHECK(connected.connection_state_updated_time >= before);
  CHECK(connected.last_activity_time >= before);

  connections.Detach("dev1", connection.get());
  Device gone = Overlaid("dev1");
  CHECK_FALSE(gone.connected);
  CHECK(gone.connection_state_updated_time >= connected.connection_state_updated_time);
}

TEST_CASE_FIXTURE(Hub, "DeviceConnections: a connection that has ended is not sent anything") {
  auto connection = std::make_shared<FakeConnection>();
  connections.Attach("dev1", connection);
  connection.reset();  // gone without a detach
  CHECK_FALSE(connections.SendMethodRequest("dev1", "m", "1", "null"));
  connections.NotifyCloudToDevice("dev1");  // nothing to tell; must not crash
  connections.Disconnect("dev1", "why");
}

TEST_CASE_FIXTURE(Hub, "DeviceConnections: disconnect closes the device's connection with the reason") {
  auto connection = std::make_shared<FakeConnection>();
  connections.Attach("dev1", connection);
  connections.Disconnect("dev1", "the device was disabled");
  REQUIRE(connection->closed.size() == 1);
  CHECK(connection->closed[0] == "the device was disabled");
  connections.Disconnect("dev2", "nobody there");
}

TEST_CASE_FIXTURE(Hub, "DeviceConnections: observers hear of each connection and methods subscription") {
  std::vector<std::string> ready;
  connections.OnMethodsReady([&](const std::string& id) { ready.push_back(id); });
  connections.Attach("dev1", std::make_shared<FakeConnection>());
  connections.MethodsSubscribed("dev2");
  CHECK(ready == std::vector<std::string>{"dev1", "dev2"});
}

}  // namespace iothub
