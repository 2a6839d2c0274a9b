// A registry on in-memory SQLite holding the device "dev1", the base of the fuzz
// targets' hubs; each adds the store and service it exercises on the same database.
#pragma once

#include "core/device_connections.h"
#include "core/registry.h"
#include "fuzz_check.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"

namespace iothub::fuzz {

struct RegistryWithDevice {
  storage::SqliteDatabase db{":memory:"};
  storage::SqliteDeviceStore devices{db};
  DeviceConnections connections{devices};
  Registry registry{devices, &connections};

  RegistryWithDevice() {
    DeviceSpec spec;
    spec.device_id = "dev1";
    Check(registry.Put(spec, {}).ok(), "the fuzz device is created");
  }
};

// One per process, never destroyed: libFuzzer may exit from any thread.
template <typename Hub>
Hub& TheHub() {
  static Hub* hub = new Hub;
  return *hub;
}

}  // namespace iothub::fuzz
