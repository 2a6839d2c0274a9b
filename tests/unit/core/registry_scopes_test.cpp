// Registry: IoT Edge device scopes and the parent/child relation they express.
#include <doctest/doctest.h>

#include "core/registry.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"

namespace iothub {
namespace {

struct Fixture {
  storage::SqliteDatabase db{":memory:"};
  storage::SqliteDeviceStore store{db};
  Registry registry{store};

  Device Put(const DeviceSpec& spec, Precondition p = {}) {
    auto d = registry.Put(spec, p);
    REQUIRE(d.ok());
    return d.value();
  }
};

DeviceSpec Edge(std::string id) {
  DeviceSpec s;
  s.device_id = std::move(id);
  s.iot_edge = true;
  return s;
}

DeviceSpec Leaf(std::string id, std::optional<std::string> scope = std::nullopt) {
  DeviceSpec s;
  s.device_id = std::move(id);
  s.device_scope = std::move(scope);
  return s;
}

const Precondition kAny{Precondition::Kind::kAny, {}};

}  // namespace

TEST_CASE("Edge scopes: made of the device id and generation id, and read back to the id") {
  CHECK(EdgeScopeOf("gw-1", "638000000000000001") == "ms-azure-iot-edge://gw-1-638000000000000001");
  CHECK(DeviceIdInEdgeScope("ms-azure-iot-edge://gw-1-638000000000000001") == "gw-1");
  CHECK_FALSE(DeviceIdInEdgeScope("gw-1-638000000000000001"));
  CHECK_FALSE(DeviceIdInEdgeScope("ms-azure-iot-edge://nodash"));
  CHECK_FALSE(DeviceIdInEdgeScope("ms-azure-iot-edge://-1"));
}

TEST_CASE_FIXTURE(Fixture, "Registry scopes: an Edge device gets its own scope, a new one when re-created") {
  Device edge = Put(Edge("gw"));
  CHECK(edge.device_scope == EdgeScopeOf("gw", edge.generation_id));
  CHECK(edge.parent_scopes.empty());
  CHECK(Put(Leaf("plain")).device_scope == std::nullopt);

  REQUIRE(registry.Delete("gw", kAny).ok());
  Device again = Put(Edge("gw"));
  CHECK(again.device_scope != edge.device_scope);
  // The old scope names nothing now.
  CHECK(registry.Put(Leaf("child", edge.device_scope), {}).status().code() == ErrorCode::kInvalidDeviceScope);
}

TEST_CASE_FIXTURE(Fixture, "Registry scopes: a leaf's deviceScope names its Edge parent and is its parentScopes") {
  const std::string scope = *Put(Edge("gw")).device_scope;
  Device child = Put(Leaf("child", scope));
  CHECK(child.device_scope == scope);
  CHECK(child.parent_scopes == std::vector<std::string>{scope});
  CHECK(registry.Get("child")->parent_scopes == std::vector<std::string>{scope});  // stored

  // parentScopes a client sends for a leaf follow its deviceScope instead.
  DeviceSpec ignored = Leaf("child");
  ignored.parent_scopes = std::vector<std::string>{"anything"};
  CHECK(Put(ignored, kAny).parent_scopes == std::vector<std::string>{scope});

  Device freed = Put(Leaf("child", ""), kAny);
  CHECK(freed.device_scope == std::nullopt);
  CHECK(freed.parent_scopes.empty());
}

TEST_CASE_FIXTURE(Fixture, "Registry scopes: a nested Edge device keeps its own scope and names its parent") {
  const std::string parent = *Put(Edge("top")).device_scope;
  DeviceSpec spec = Edge("lower");
  spec.device_scope = parent;  // the hub's to make for an Edge device: ignored
  spec.parent_scopes = std::vector<std::string>{parent};
  Device lower = Put(spec);
  CHECK(lower.device_scope == EdgeScopeOf("lower", lower.generation_id));
  CHECK(lower.parent_scopes == std::vector<std::string>{parent});
  // A leaf under the nested one.
  CHECK(Put(Leaf("leaf", lower.device_scope)).parent_scopes == std::vector<std::string>{*lower.device_scope});
}

TEST_CASE_FIXTURE(Fixture, "Registry scopes: a scope naming no other existing Edge device is refused, on create and update") {
  const Device edge = Put(Edge("gw"));
  const Device plain = Put(Leaf("plain"));
  Put(Leaf("other"));
  struct Case {
    const char* name;
    std::string scope;
  };
  const Case cases[] = {
      {"no such device", "ms-azure-iot-edge://ghost-638000000000000001"},
      {"a device that is not Edge", EdgeScopeOf("plain", plain.generation_id)},
      {"an Edge device's former generation", EdgeScopeOf("gw", "638000000000000000")},
      {"not a scope at all", "my-scope"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(registry.Put(Leaf("new-leaf", c.scope), {}).status().code() == ErrorCode::kInvalidDeviceScope);
    CHECK(registry.Put(Leaf("other", c.scope), kAny).status().code() == ErrorCode::kInvalidDeviceScope);
    DeviceSpec nested = Edge("new-edge");
    nested.parent_scopes = std::vector<std::string>{c.scope};
    CHECK(registry.Put(nested, {}).status().code() == ErrorCode::kInvalidDeviceScope);
  }
  CHECK_FALSE(registry.Get("new-leaf").ok());
  CHECK_FALSE(registry.Get("new-edge").ok());
  CHECK(registry.Get("other")->device_scope == std::nullopt);

  DeviceSpec own = Edge("gw");
  own.parent_scopes = std::vector<std::string>{*edge.device_scope};
  CHECK(registry.Put(own, kAny).status().code() == ErrorCode::kInvalidDeviceScope);
}

TEST_CASE_FIXTURE(Fixture, "Registry scopes: a kept parent may be gone, and an Edge device turned leaf drops its scope") {
  const std::string scope = *Put(Edge("gw")).device_scope;
  Put(Leaf("child", scope));
  REQUIRE(registry.Delete("gw", kAny).ok());
  // The child's JSON sent back as read (with its old deviceScope) still updates.
  DeviceSpec update = Leaf("child", scope);
  update.status = DeviceStatus::kDisabled;
  CHECK(Put(update, kAny).status == DeviceStatus::kDisabled);

  Device edge = Put(Edge("gw2"));
  DeviceSpec turned = Leaf("gw2", edge.device_scope);  // as read, with iotEdge now false
  turned.iot_edge = false;
  Device leaf = Put(turned, kAny);
  CHECK(leaf.device_scope == std::nullopt);
  CHECK(leaf.parent_scopes.empty());
}

TEST_CASE_FIXTURE(Fixture, "Registry scopes: bulk reports a bad scope as InvalidDeviceScope for that device only") {
  const std::string scope = *Put(Edge("gw")).device_scope;
  auto result = registry.Bulk({{Leaf("b1", "ms-azure-iot-edge://ghost-1"), "create", {}},
                               {Leaf("b2", scope), "create", {}}});
  REQUIRE(result.ok());
  REQUIRE(result->errors.size() == 1);
  CHECK(result->errors[0].device_id == "b1");
  CHECK(result->errors[0].error_code == "InvalidDeviceScope");
  CHECK(registry.Get("b2")->parent_scopes == std::vector<std::string>{scope});
}

}  // namespace iothub
