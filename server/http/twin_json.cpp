#include "http/twin_json.h"

#include <nlohmann/json.hpp>

#include "core/time_format.h"

namespace iothub::http {
namespace {

using nlohmann::json;

json OrNull(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

// A section as IoT Hub shows it; one never written still has a $lastUpdated.
json Section(const json& values, const json& metadata, int64_t version) {
  json out = values;
  out["$metadata"] = metadata.empty() ? json{{"$lastUpdated", FormatIso8601(kNever)}} : metadata;
  out["$version"] = version;
  return out;
}

}  // namespace

json TwinToJson(const Device& d, const TwinDocument& t) {
  json j = {
      {"deviceId", d.device_id},
      {"moduleId", nullptr},
      {"etag", t.etag()},
      {"deviceEtag", d.etag()},
      {"status", ToString(d.status)},
      {"statusReason", OrNull(d.status_reason)},
      {"statusUpdateTime", FormatIso8601(d.status_updated_time)},
      {"connectionState", d.connected ? "Connected" : "Disconnected"},
      {"lastActivityTime", FormatIso8601(d.last_activity_time)},
      {"cloudToDeviceMessageCount", d.cloud_to_device_message_count},
      {"authenticationType", ToString(d.auth_type)},
      {"x509Thumbprint",
       {{"primaryThumbprint", OrNull(d.primary_thumbprint)}, {"secondaryThumbprint", OrNull(d.secondary_thumbprint)}}},
      {"modelId", ""},
      {"version", t.version},
      {"capabilities", {{"iotEdge", d.iot_edge}}},
      {"parentScopes", d.parent_scopes},
      {"tags", t.tags},
      {"properties",
       {{"desired", Section(t.desired, t.desired_metadata, t.desired_version)},
        {"reported", Section(t.reported, t.reported_metadata, t.reported_version)}}},
  };
  // As on the Device JSON: a device without a scope has no deviceScope.
  if (d.device_scope) j["deviceScope"] = *d.device_scope;
  return j;
}

}  // namespace iothub::http
