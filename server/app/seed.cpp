#include "app/seed.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/json_parse.h"
#include "http/device_json.h"

namespace iothub::app {

Result<int> ApplySeedFile(const std::string& path, Registry& registry) {
  std::ifstream in(path);
  if (!in) return Status::ArgumentInvalid("cannot read the seed file " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto parsed = ParseJsonValue(text, path);
  if (!parsed.ok()) return Status::ArgumentInvalid(parsed.status().message());
  nlohmann::json file = std::move(parsed).value();
  if (file.is_object() && file.contains("devices")) file = file["devices"];
  if (!file.is_array()) return Status::ArgumentInvalid(path + " must hold a JSON array of devices");

  std::vector<BulkItem> items;
  for (size_t i = 0; i < file.size(); ++i) {
    auto spec = http::DeviceSpecFromJson(file[i], "deviceId");
    if (!spec.ok()) return Status::ArgumentInvalid(path + ", device " + std::to_string(i) + ": " + spec.status().message());
    if (spec->device_id.empty()) return Status::ArgumentInvalid(path + ", device " + std::to_string(i) + ": no deviceId");
    // A seed declares the device as it should be, whether or not a volume kept it from last time.
    const bool exists = registry.Get(spec->device_id).ok();
    items.push_back({std::move(spec).value(), exists ? "update" : "create", {}});
  }
  // In batches of the bulk limit, each all or nothing.
  for (size_t start = 0; start < items.size(); start += Registry::kMaxBulkItems) {
    std::vector<BulkItem> batch(items.begin() + start,
                                items.begin() + std::min(items.size(), start + Registry::kMaxBulkItems));
    auto result = registry.Bulk(batch);
    if (!result.ok()) return result.status();
    if (!result->is_successful) {
      const BulkError& e = result->errors.front();
      return Status::ArgumentInvalid(path + ", device '" + e.device_id + "': " + e.error_status);
    }
  }
  return static_cast<int>(items.size());
}

}  // namespace iothub::app
