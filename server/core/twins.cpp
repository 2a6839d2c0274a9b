#include "core/twins.h"

#include "core/crypto.h"
#include "core/time_format.h"

namespace iothub {
namespace {

using nlohmann::json;

constexpr size_t kMaxKeyBytes = 1024;
constexpr int kMaxDepth = 10;
constexpr size_t kMaxPropertiesBytes = 32 * 1024;
constexpr size_t kMaxTagsBytes = 8 * 1024;

// IoT Hub's rules for what a client writes: keys without '.', '$', ' ' or control
// characters, at most 1 KiB; nesting at most 10 deep, arrays counting as levels too.
Status ValidatePatch(const json& value, const std::string& path, int depth) {
  if (!value.is_structured()) return Status::Ok();
  if (depth > kMaxDepth) return Status::ArgumentInvalid("'" + path + "' nests deeper than " + std::to_string(kMaxDepth) + " levels");
  if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      if (auto s = ValidatePatch(value[i], path + "[" + std::to_string(i) + "]", depth + 1); !s.ok()) return s;
    }
    return Status::Ok();
  }
  for (const auto& [key, child] : value.items()) {
    if (key.empty() || key.size() > kMaxKeyBytes) return Status::ArgumentInvalid("Property names must be 1 to 1024 bytes");
    for (unsigned char c : key) {
      if (c == '.' || c == '$' || c == ' ' || c < 0x20 || c == 0x7F) {
        return Status::ArgumentInvalid("Property name '" + key + "' may not contain '.', '$', spaces or control characters");
      }
    }
    if (auto s = ValidatePatch(child, path.empty() ? key : path + "." + key, depth + 1); !s.ok()) return s;
  }
  return Status::Ok();
}

// Merges `patch` into `target` (null deletes), recording $lastUpdated in `metadata` for every member written.
void Merge(json& target, json& metadata, const json& patch, const std::string& now) {
  metadata["$lastUpdated"] = now;
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      target.erase(key);
      metadata.erase(key);
    } else if (value.is_object()) {
      if (!target.contains(key) || !target[key].is_object()) {
        target[key] = json::object();
        metadata[key] = json::object();
      }
      if (!metadata[key].is_object()) metadata[key] = json::object();
      Merge(target[key], metadata[key], value, now);
    } else {
      target[key] = value;
      metadata[key] = {{"$lastUpdated", now}};
    }
  }
}

// Metadata for a whole document written at once.
json MetadataFor(const json& value, const std::string& now) {
  json metadata = {{"$lastUpdated", now}};
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) metadata[key] = MetadataFor(child, now);
  }
  return metadata;
}

// A patch with nulls removed: what a whole-document write stores.
json WithoutNulls(const json& value) {
  if (!value.is_object()) return value;
  json out = json::object();
  for (const auto& [key, child] : value.items()) {
    if (!child.is_null()) out[key] = WithoutNulls(child);
  }
  return out;
}

Status CheckSize(const json& section, size_t limit, const char* name) {
  if (section.dump().size() > limit) {
    return Status(ErrorCode::kMessageTooLarge,
                  std::string("The twin's ") + name + " would exceed " + std::to_string(limit / 1024) + " KiB");
  }
  return Status::Ok();
}

std::string Now() { return FormatIso8601(Clock::now()); }

}  // namespace

std::string TwinDocument::etag() const {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[7 - i] = static_cast<char>((version >> (8 * i)) & 0xFF);
  return crypto::Base64Encode(bytes);
}

Result<std::pair<Device, TwinDocument>> Twins::Get(const std::string& device_id) {
  auto device = registry_.Get(device_id);
  if (!device.ok()) return device.status();
  std::lock_guard lock(mu_);
  return std::make_pair(std::move(device).value(), store_.Load(device_id).value_or(TwinDocument{}));
}

Result<std::pair<Device, TwinDocument>> Twins::Patch(const std::string& device_id, const json& patch,
                                                     const Precondition& precondition) {
  if (!patch.is_object()) return Status::ArgumentInvalid("A twin patch must be a JSON object");
  const json* tags = patch.contains("tags") && !patch["tags"].is_null() ? &patch["tags"] : nullptr;
  const json* desired = nullptr;
  if (patch.contains("properties") && patch["properties"].is_object() && patch["properties"].contains("desired")) {
    desired = &patch["properties"]["desired"];
  }
  if (patch.contains("properties") && patch["properties"].is_object() && patch["properties"].contains("reported")) {
    return Status::ArgumentInvalid("Reported properties are written by the device only");
  }
  return Update(device_id, precondition, tags, desired, /*replace=*/false);
}

Result<std::pair<Device, TwinDocument>> Twins::Replace(const std::string& device_id, const json& twin,
                                                       const Precondition& precondition) {
  if (!twin.is_object()) return Status::ArgumentInvalid("A twin must be a JSON object");
  static const json kEmpty = json::object();
  const json* tags = twin.contains("tags") && !twin["tags"].is_null() ? &twin["tags"] : &kEmpty;
  const json* desired = &kEmpty;
  if (twin.contains("properties") && twin["properties"].is_object() && twin["properties"].contains("desired") &&
      !twin["properties"]["desired"].is_null()) {
    desired = &twin["properties"]["desired"];
  }
  return Update(device_id, precondition, tags, desired, /*replace=*/true);
}

Result<std::pair<Device, TwinDocument>> Twins::Update(const std::string& device_id, const Precondition& precondition,
                                                      const json* tags, const json* desired, bool replace) {
  auto device = registry_.Get(device_id);
  if (!device.ok()) return device.status();
  for (auto [section, name] : {std::pair{tags, "tags"}, std::pair{desired, "desired"}}) {
    if (!section || section->is_null()) continue;  // only a patch's desired can be null: see below
    if (!section->is_object()) return Status::ArgumentInvalid(std::string("'") + name + "' must be a JSON object");
    if (auto s = ValidatePatch(*section, name, 1); !s.ok()) return s;
  }
  json notification;
  TwinDocument twin;
  {
    std::lock_guard lock(mu_);
    twin = store_.Load(device_id).value_or(TwinDocument{});
    if (precondition.kind == Precondition::Kind::kEtag && precondition.etag != twin.etag()) {
      return Status::PreconditionFailed("The etag '" + precondition.etag + "' does not match the twin's current etag");
    }
    TwinDocument before = twin;
    const std::string now = Now();
    if (tags) {
      if (replace) {
        twin.tags = WithoutNulls(*tags);
      } else {
        json ignored = json::object();
        Merge(twin.tags, ignored, *tags, now);
      }
      if (auto s = CheckSize(twin.tags, kMaxTagsBytes, "tags"); !s.ok()) return s;
    }
    if (desired) {
      if (desired->is_null()) {
        // {"properties": {"desired": null}} removes every desired property. The device hears
        // it as a patch deleting each one, which the device SDKs' merge (null deletes) applies.
        notification = json::object();
        for (const auto& item : twin.desired.items()) notification[item.key()] = nullptr;
        twin.desired = json::object();
        twin.desired_metadata = {{"$lastUpdated", now}};
      } else if (replace) {
        twin.desired = WithoutNulls(*desired);
        twin.desired_metadata = MetadataFor(twin.desired, now);
      } else {
        Merge(twin.desired, twin.desired_metadata, *desired, now);
      }
      if (auto s = CheckSize(twin.desired, kMaxPropertiesBytes, "desired properties"); !s.ok()) return s;
      twin.desired_version += 1;
      // The device hears the change as a patch; a replacement tells it the whole new state.
      if (!desired->is_null()) notification = replace ? twin.desired : *desired;
      notification["$version"] = twin.desired_version;
    }
    twin.version += 1;
    store_.Save(device_id, twin);
  }
  if (!notification.is_null()) {
    connections_.SendDesiredPropertiesPatch(device_id, twin.desired_version, notification.dump());
  }
  return std::make_pair(std::move(device).value(), twin);
}

Result<int64_t> Twins::PatchReported(const std::string& device_id, const json& patch) {
  if (!patch.is_object()) return Status::ArgumentInvalid("A reported-properties patch must be a JSON object");
  if (auto s = ValidatePatch(patch, "reported", 1); !s.ok()) return s;
  std::lock_guard lock(mu_);
  TwinDocument twin = store_.Load(device_id).value_or(TwinDocument{});
  Merge(twin.reported, twin.reported_metadata, patch, Now());
  if (auto s = CheckSize(twin.reported, kMaxPropertiesBytes, "reported properties"); !s.ok()) return s;
  twin.reported_version += 1;
  twin.version += 1;
  store_.Save(device_id, twin);
  return twin.reported_version;
}

Result<json> Twins::DeviceView(const std::string& device_id) {
  std::lock_guard lock(mu_);
  TwinDocument twin = store_.Load(device_id).value_or(TwinDocument{});
  json desired = twin.desired;
  desired["$version"] = twin.desired_version;
  json reported = twin.reported;
  reported["$version"] = twin.reported_version;
  return json{{"desired", desired}, {"reported", reported}};
}

}  // namespace iothub
