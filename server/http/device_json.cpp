#include "http/device_json.h"

#include <nlohmann/json.hpp>

#include "core/time_format.h"

namespace iothub::http {
namespace {

using nlohmann::json;

json OrNull(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

// Field readers: absent or null → nullopt; a value of another type → error.
class Reader {
 public:
  explicit Reader(const json& object) : object_(object) {}

  std::optional<std::string> String(const char* name, const char* path) {
    const json* v = Find(name);
    if (!v) return std::nullopt;
    if (!v->is_string()) return Fail(path, "a string");
    return v->get<std::string>();
  }
  std::optional<bool> Bool(const char* name, const char* path) {
    const json* v = Find(name);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) return Fail(path, "true or false"), std::nullopt;
    return v->get<bool>();
  }
  // An object member; nullptr when absent or null.
  const json* Object(const char* name, const char* path) {
    const json* v = Find(name);
    if (v && !v->is_object()) return Fail(path, "an object"), nullptr;
    return v;
  }
  const json* Array(const char* name, const char* path) {
    const json* v = Find(name);
    if (v && !v->is_array()) return Fail(path, "an array"), nullptr;
    return v;
  }
  const Status& status() const { return status_; }

 private:
  const json* Find(const char* name) const {
    auto it = object_.find(name);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }
  std::nullopt_t Fail(const char* path, const char* expected) {
    if (status_.ok()) status_ = Status::ArgumentInvalid(std::string("'") + path + "' must be " + expected);
    return std::nullopt;
  }

  const json& object_;
  Status status_;
};

}  // namespace

json DeviceToJson(const Device& d) {
  json j = {
      {"deviceId", d.device_id},
      {"generationId", d.generation_id},
      {"etag", d.etag()},
      {"connectionState", d.connected ? "Connected" : "Disconnected"},
      {"status", ToString(d.status)},
      {"statusReason", OrNull(d.status_reason)},
      {"connectionStateUpdatedTime", FormatIso8601(d.connection_state_updated_time)},
      {"statusUpdatedTime", FormatIso8601(d.status_updated_time)},
      {"lastActivityTime", FormatIso8601(d.last_activity_time)},
      {"cloudToDeviceMessageCount", d.cloud_to_device_message_count},
      {"authentication",
       {{"symmetricKey", {{"primaryKey", OrNull(d.primary_key)}, {"secondaryKey", OrNull(d.secondary_key)}}},
        {"x509Thumbprint",
         {{"primaryThumbprint", OrNull(d.primary_thumbprint)}, {"secondaryThumbprint", OrNull(d.secondary_thumbprint)}}},
        {"type", ToString(d.auth_type)}}},
      {"capabilities", {{"iotEdge", d.iot_edge}}},
      {"parentScopes", d.parent_scopes},
  };
  if (d.device_scope) j["deviceScope"] = *d.device_scope;
  return j;
}

Result<DeviceSpec> DeviceSpecFromJson(const json& body, const char* id_field) {
  if (!body.is_object()) return Status::ArgumentInvalid("The device must be a JSON object");
  DeviceSpec spec;
  Reader r(body);
  spec.device_id = r.String(id_field, id_field).value_or("");
  if (auto status = r.String("status", "status")) {
    spec.status = ParseDeviceStatus(*status);
    if (!spec.status) return Status::ArgumentInvalid("'status' must be 'enabled' or 'disabled', not '" + *status + "'");
  }
  spec.status_reason = r.String("statusReason", "statusReason");
  if (const json* auth = r.Object("authentication", "authentication")) {
    Reader a(*auth);
    if (auto type = a.String("type", "authentication.type")) {
      spec.auth_type = ParseAuthType(*type);
      if (!spec.auth_type) {
        return Status::ArgumentInvalid("'authentication.type' must be sas, selfSigned, certificateAuthority or none");
      }
    }
    if (const json* keys = a.Object("symmetricKey", "authentication.symmetricKey")) {
      Reader k(*keys);
      spec.primary_key = k.String("primaryKey", "authentication.symmetricKey.primaryKey");
      spec.secondary_key = k.String("secondaryKey", "authentication.symmetricKey.secondaryKey");
      if (!k.status().ok()) return k.status();
    }
    if (const json* thumbs = a.Object("x509Thumbprint", "authentication.x509Thumbprint")) {
      Reader t(*thumbs);
      spec.primary_thumbprint = t.String("primaryThumbprint", "authentication.x509Thumbprint.primaryThumbprint");
      spec.secondary_thumbprint = t.String("secondaryThumbprint", "authentication.x509Thumbprint.secondaryThumbprint");
      if (!t.status().ok()) return t.status();
    }
    if (!a.status().ok()) return a.status();
    // As the SDKs do: thumbprints without a type mean a self-signed device.
    if (!spec.auth_type && ((spec.primary_thumbprint && !spec.primary_thumbprint->empty()) ||
                            (spec.secondary_thumbprint && !spec.secondary_thumbprint->empty()))) {
      spec.auth_type = AuthType::kSelfSigned;
    }
  }
  if (const json* caps = r.Object("capabilities", "capabilities")) {
    Reader c(*caps);
    spec.iot_edge = c.Bool("iotEdge", "capabilities.iotEdge");
    if (!c.status().ok()) return c.status();
  }
  spec.device_scope = r.String("deviceScope", "deviceScope");
  if (const json* scopes = r.Array("parentScopes", "parentScopes")) {
    spec.parent_scopes.emplace();
    for (const json& s : *scopes) {
      if (!s.is_string()) return Status::ArgumentInvalid("'parentScopes' must be an array of strings");
      spec.parent_scopes->push_back(s.get<std::string>());
    }
  }
  if (!r.status().ok()) return r.status();
  return spec;
}

Result<BulkItem> BulkItemFromJson(const json& item) {
  auto spec = DeviceSpecFromJson(item, "id");
  if (!spec.ok()) return spec.status();
  BulkItem out{std::move(spec).value(), {}, {}};
  Reader r(item);
  out.import_mode = r.String("importMode", "importMode").value_or("");
  // The REST model calls it eTag; accept the device's own spelling too.
  out.etag = r.String("eTag", "eTag").value_or(r.String("etag", "etag").value_or(""));
  if (!r.status().ok()) return r.status();
  if (out.spec.device_id.empty()) return Status::ArgumentInvalid("Every bulk item needs an 'id'");
  if (out.import_mode.empty()) return Status::ArgumentInvalid("Every bulk item needs an 'importMode'");
  return out;
}

json BulkResultToJson(const BulkResult& result) {
  json errors = json::array();
  for (const auto& e : result.errors) {
    errors.push_back({{"deviceId", e.device_id}, {"errorCode", e.error_code}, {"errorStatus", e.error_status},
                      {"moduleId", nullptr}});
  }
  return {{"isSuccessful", result.is_successful}, {"errors", errors}, {"warnings", json::array()}};
}

}  // namespace iothub::http
