// Device JSON as the registry REST API accepts it: PUT /devices/{id} (one device)
// and POST /devices (bulk import), parsed with ParseJson as every outside body is,
// then applied to a registry on an in-memory SQLite store. Whatever the registry
// keeps must come back as JSON that is itself an acceptable body.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "core/json_parse.h"
#include "core/registry.h"
#include "fuzz_check.h"
#include "http/device_json.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"

namespace {

using namespace iothub;
using fuzz::Check;

struct Hub {
  storage::SqliteDatabase db{":memory:"};
  storage::SqliteDeviceStore store{db};
  Registry registry{store};

  // Each input starts from an empty registry.
  void Clear() {
    for (const Device& d : registry.List(Registry::kMaxListSize)) {
      registry.Delete(d.device_id, {Precondition::Kind::kAny, {}});
    }
  }
};

Hub& TheHub() {
  static Hub* hub = new Hub;  // never destroyed: libFuzzer may exit from any thread
  return *hub;
}

void CheckStoredDevice(const Device& device) {
  const nlohmann::json json = http::DeviceToJson(device);
  (void)json.dump();
  auto spec = http::DeviceSpecFromJson(json, "deviceId");
  Check(spec.ok(), "a device's own JSON is an acceptable PUT body");
  Check(spec->device_id == device.device_id, "a device's JSON keeps its id");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ParsedJson body = ParseJson(text);
  if (!body.ok()) return 0;
  Check(JsonDepth(body.value) <= kMaxJsonDepth, "ParseJson bounds the depth");

  Hub& hub = TheHub();
  if (body.value.is_array()) {
    std::vector<BulkItem> items;
    for (const auto& entry : body.value) {
      auto item = http::BulkItemFromJson(entry);
      if (!item.ok()) return 0;
      items.push_back(std::move(item).value());
    }
    auto result = hub.registry.Bulk(items);
    if (result.ok()) (void)http::BulkResultToJson(*result).dump();
  } else {
    auto spec = http::DeviceSpecFromJson(body.value, "deviceId");
    if (!spec.ok()) return 0;
    if (spec->device_id.empty()) spec.value().device_id = "dev1";  // the id from the path
    auto created = hub.registry.Put(*spec, {});
    if (created.ok()) {
      CheckStoredDevice(*created);
      // The same body again as an update of what exists (If-Match: *).
      auto updated = hub.registry.Put(*spec, {Precondition::Kind::kAny, {}});
      if (updated.ok()) CheckStoredDevice(*updated);
    }
  }
  for (const Device& d : hub.registry.List(Registry::kMaxListSize)) CheckStoredDevice(d);
  hub.Clear();
  return 0;
}
