// Device twins (spec §2.7, §4.2–4.3): tags, desired and reported properties, each
// section with `$version` and `$metadata` ($lastUpdated at every level), IoT Hub's
// key and size rules, merge patches (null deletes), and the twin's version and etag.
// Desired changes go to the device's connection as they happen. Thread-safe.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/device_connections.h"
#include "core/registry.h"
#include "core/status.h"

namespace iothub {

struct TwinDocument {
  nlohmann::json tags = nlohmann::json::object();
  nlohmann::json desired = nlohmann::json::object();
  nlohmann::json desired_metadata = nlohmann::json::object();
  int64_t desired_version = 1;
  nlohmann::json reported = nlohmann::json::object();
  nlohmann::json reported_metadata = nlohmann::json::object();
  int64_t reported_version = 1;
  int64_t version = 1;

  // IoT Hub's twin etag: base64 of the version as 8 big-endian bytes ("AAAAAAAAAAE=").
  std::string etag() const;
};

// Storage of twins. Thread-safe; failures throw.
class TwinStore {
 public:
  virtual ~TwinStore() = default;
  virtual std::optional<TwinDocument> Load(const std::string& device_id) = 0;
  virtual void Save(const std::string& device_id, const TwinDocument& twin) = 0;
  virtual void Remove(const std::string& device_id) = 0;
};

class Twins {
 public:
  Twins(TwinStore& store, Registry& registry, DeviceConnections& connections)
      : store_(store), registry_(registry), connections_(connections) {}

  // The twin with the device it belongs to (for the REST Twin JSON).
  Result<std::pair<Device, TwinDocument>> Get(const std::string& device_id);
  // PATCH /twins/{id}: merges `tags` and `properties.desired` (null members delete); a
  // `properties.desired` of null removes every desired property. Precondition kAny or kEtag.
  Result<std::pair<Device, TwinDocument>> Patch(const std::string& device_id, const nlohmann::json& patch,
                                                const Precondition& precondition);
  // PUT /twins/{id}: replaces tags and desired properties (absent or null: none).
  Result<std::pair<Device, TwinDocument>> Replace(const std::string& device_id, const nlohmann::json& twin,
                                                  const Precondition& precondition);
  // A device's reported-properties patch; returns the new reported $version.
  Result<int64_t> PatchReported(const std::string& device_id, const nlohmann::json& patch);
  // What a device's GET sees: {"desired": {..., "$version"}, "reported": {..., "$version"}}.
  Result<nlohmann::json> DeviceView(const std::string& device_id);
  // Forgets a deleted device's twin.
  void Remove(const std::string& device_id) { store_.Remove(device_id); }

 private:
  Result<std::pair<Device, TwinDocument>> Update(const std::string& device_id, const Precondition& precondition,
                                                 const nlohmann::json* tags, const nlohmann::json* desired,
                                                 bool replace);

  TwinStore& store_;
  Registry& registry_;
  DeviceConnections& connections_;
  std::mutex mu_;  // serialises read-modify-write of twins
};

}  // namespace iothub
