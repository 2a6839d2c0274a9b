// Twin bodies: PATCH /twins/{id} (tags and desired properties, merge patch),
// PUT /twins/{id} (replace) and a device's reported-properties patch over MQTT,
// parsed with ParseJson then validated and merged by Twins on an in-memory SQLite
// store. The first byte picks the operation; the rest is the body. What is stored
// must load back the same and be writable as the REST Twin JSON.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "core/device_connections.h"
#include "core/json_parse.h"
#include "core/registry.h"
#include "core/twins.h"
#include "fuzz_check.h"
#include "fuzz_hub.h"
#include "http/twin_json.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"
#include "storage/sqlite_twin_store.h"

namespace {

using namespace iothub;
using fuzz::Check;

struct Hub : fuzz::RegistryWithDevice {
  storage::SqliteTwinStore twin_store{db};
  Twins twins{twin_store, registry, connections};
};

Hub& TheHub() { return fuzz::TheHub<Hub>(); }

bool SameTwin(const TwinDocument& a, const TwinDocument& b) {
  return a.tags == b.tags && a.desired == b.desired && a.desired_metadata == b.desired_metadata &&
         a.desired_version == b.desired_version && a.reported == b.reported &&
         a.reported_metadata == b.reported_metadata && a.reported_version == b.reported_version &&
         a.version == b.version;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t op = data[0] % 3;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  ParsedJson body = ParseJson(text);
  if (!body.ok()) return 0;

  Hub& hub = TheHub();
  const std::string device_id = "dev1";
  const Precondition any{Precondition::Kind::kAny, {}};
  if (op == 2) {
    auto version = hub.twins.PatchReported(device_id, body.value);
    if (version.ok()) Check(*version >= 2, "a reported patch raises the reported version");
  } else {
    auto result = op == 0 ? hub.twins.Patch(device_id, body.value, any) : hub.twins.Replace(device_id, body.value, any);
    if (result.ok()) {
      auto again = hub.twins.Get(device_id);
      Check(again.ok(), "the twin of an existing device loads");
      Check(SameTwin(result->second, again->second), "a stored twin loads back the same");
    }
  }
  auto twin = hub.twins.Get(device_id);
  Check(twin.ok(), "the twin of an existing device loads");
  (void)http::TwinToJson(twin->first, twin->second).dump();
  auto view = hub.twins.DeviceView(device_id);
  Check(view.ok(), "a device sees its twin");
  (void)view->dump();
  hub.twins.Remove(device_id);
  return 0;
}
