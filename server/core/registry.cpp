#include "core/registry.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <future>

#include "core/crypto.h"

namespace iothub {
namespace {

std::string NewGenerationId() {
  // IoT Hub's generation ids are 18-digit numbers; .NET ticks are too, and
  // differ for every re-creation of the same id.
  static std::mutex mu;
  static int64_t last = 0;
  std::lock_guard lock(mu);
  last = std::max(last + 1, DotNetTicks(Clock::now()));
  return std::to_string(last);
}

std::string NewKey() { return crypto::Base64Encode(crypto::RandomBytes(32)); }

bool Given(const std::optional<std::string>& s) { return s && !s->empty(); }

// Applies what a client asked for to a new or existing device, with IoT Hub's
// rules for which credentials go with which authentication type.
Result<Device> ApplySpec(std::optional<Device> existing, const DeviceSpec& spec) {
  const bool creating = !existing;
  Device d = creating ? Device{} : *existing;
  if (creating) {
    d.device_id = spec.device_id;
    d.generation_id = NewGenerationId();
    d.version = 0;
  }
  if (spec.status && *spec.status != d.status) {
    d.status = *spec.status;
    if (!creating) d.status_updated_time = Clock::now();
  }
  if (spec.status_reason) d.status_reason = spec.status_reason;

  const AuthType type = spec.auth_type.value_or(creating ? AuthType::kSas : d.auth_type);
  const bool type_changed = creating || type != d.auth_type;
  const bool keys_given = Given(spec.primary_key) || Given(spec.secondary_key);
  const bool thumbprints_given = Given(spec.primary_thumbprint) || Given(spec.secondary_thumbprint);

  switch (type) {
    case AuthType::kSas:
      if (thumbprints_given) return Status::ArgumentInvalid("A device with authentication type 'sas' takes no x509Thumbprint");
      if (Given(spec.primary_key) != Given(spec.secondary_key)) {
        return Status::ArgumentInvalid(
            "Give both primaryKey and secondaryKey, or neither to have the hub generate them");
      }
      if (keys_given) {
        if (auto s = ValidateSymmetricKey("primaryKey", *spec.primary_key); !s.ok()) return s;
        if (auto s = ValidateSymmetricKey("secondaryKey", *spec.secondary_key); !s.ok()) return s;
        d.primary_key = spec.primary_key;
        d.secondary_key = spec.secondary_key;
      } else if (type_changed || !d.primary_key) {
        d.primary_key = NewKey();
        d.secondary_key = NewKey();
      }
      d.primary_thumbprint.reset();
      d.secondary_thumbprint.reset();
      break;
    case AuthType::kSelfSigned:
      if (keys_given) return Status::ArgumentInvalid("A device with authentication type 'selfSigned' takes no symmetricKey");
      if (thumbprints_given) {
        if (!Given(spec.primary_thumbprint)) return Status::ArgumentInvalid("primaryThumbprint is required");
        if (auto s = ValidateThumbprint("primaryThumbprint", *spec.primary_thumbprint); !s.ok()) return s;
        if (Given(spec.secondary_thumbprint)) {
          if (auto s = ValidateThumbprint("secondaryThumbprint", *spec.secondary_thumbprint); !s.ok()) return s;
        }
        d.primary_thumbprint = spec.primary_thumbprint;
        d.secondary_thumbprint = Given(spec.secondary_thumbprint) ? spec.secondary_thumbprint : std::nullopt;
      } else if (type_changed) {
        return Status::ArgumentInvalid("A device with authentication type 'selfSigned' needs x509Thumbprint.primaryThumbprint");
      }
      d.primary_key.reset();
      d.secondary_key.reset();
      break;
    case AuthType::kCertificateAuthority:
    case AuthType::kNone:
      if (keys_given || thumbprints_given) {
        return Status::ArgumentInvalid(std::string("A device with authentication type '") + ToString(type) +
                                       "' takes neither symmetricKey nor x509Thumbprint");
      }
      d.primary_key.reset();
      d.secondary_key.reset();
      d.primary_thumbprint.reset();
      d.secondary_thumbprint.reset();
      break;
  }
  d.auth_type = type;

  if (spec.iot_edge) d.iot_edge = *spec.iot_edge;
  d.version += 1;
  return d;
}

// The scopes a write asks for, before they are checked against the registry. An Edge
// device's own scope is the hub's (any deviceScope given is ignored, as IoT Hub does); its
// parents are the parentScopes given. A leaf names its parent by deviceScope ("" for none)
// and its parentScopes follow from that. A leaf holding its own former Edge scope (an Edge
// device turned leaf, its JSON sent back as read) has no parent.
void ApplyScopes(Device& d, const DeviceSpec& spec) {
  if (d.iot_edge) {
    if (spec.parent_scopes) d.parent_scopes = *spec.parent_scopes;
  } else {
    if (spec.device_scope) d.device_scope = spec.device_scope;
    if (d.device_scope == EdgeScopeOf(d.device_id, d.generation_id)) d.device_scope.reset();
  }
  DeriveScopes(d);
}

Status NotFound(const std::string& id) { return Status::DeviceNotFound("Device '" + id + "' not found"); }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Calls `start` with a `done` and waits for it: the blocking form of a write.
template <class T, class Start>
T Awaited(Start start) {
  std::promise<T> promise;
  auto answer = promise.get_future();
  start(std::function<void(T)>([&promise](T value) { promise.set_value(std::move(value)); }));
  return answer.get();
}

}  // namespace

Registry::Registry(DeviceStore& store, DeviceConnections* connections)
    : store_(store), connections_(connections), writes_(store) {}

Device Registry::WithPresence(Device device) const {
  DeriveScopes(device);  // devices stored before scopes were derived get theirs on the way out
  if (connections_) connections_->Overlay(device);
  if (message_counter_) device.cloud_to_device_message_count = message_counter_(device.device_id);
  return device;
}

void Registry::CloseIfRevoked(const std::optional<Device>& before, const Device& device, AfterCommit& after) {
  if (!connections_ || !before) return;
  const char* reason = nullptr;
  if (device.status == DeviceStatus::kDisabled) {
    reason = "the device was disabled";
  } else if (device.auth_type != before->auth_type || device.primary_key != before->primary_key ||
             device.secondary_key != before->secondary_key) {
    reason = "the device's credentials changed";
  }
  if (reason) after.push_back([this, id = device.device_id, reason] { connections_->Disconnect(id, reason); });
}

void Registry::Put(DeviceSpec spec, Precondition precondition, std::function<void(Result<Device>)> done) {
  if (auto s = ValidateDeviceId(spec.device_id); !s.ok()) return done(s);
  writes_.Run(
      [this, spec = std::move(spec), precondition = std::move(precondition), done]() -> std::function<void()> {
        AfterCommit after;
        auto device = PutInTransaction(spec, precondition, after);
        return [this, device = std::move(device), after = std::move(after), done]() mutable {
          for (auto& f : after) f();
          if (device.ok()) device = WithPresence(std::move(device).value());
          done(std::move(device));
        };
      },
      [done](Status s) { done(std::move(s)); });
}

Result<Device> Registry::Put(const DeviceSpec& spec, const Precondition& precondition) {
  return Awaited<Result<Device>>([&](auto done) { Put(spec, precondition, std::move(done)); });
}

Result<Device> Registry::PutInTransaction(const DeviceSpec& spec, const Precondition& precondition,
                                          AfterCommit& after) {
  std::optional<Device> existing = store_.Find(spec.device_id);
  switch (precondition.kind) {
    case Precondition::Kind::kNone:
      if (existing) return Status::DeviceAlreadyExists("A device with id '" + spec.device_id + "' already exists");
      break;
    case Precondition::Kind::kIfNoneMatch:
      if (existing) return Status::PreconditionFailed("A device with id '" + spec.device_id + "' already exists");
      break;
    case Precondition::Kind::kAny:
      if (!existing) return NotFound(spec.device_id);
      break;
    case Precondition::Kind::kEtag:
      if (!existing) return NotFound(spec.device_id);
      if (existing->etag() != precondition.etag) {
        return Status::PreconditionFailed("The etag '" + precondition.etag + "' does not match the device's current etag");
      }
      break;
  }
  auto device = ApplySpec(existing, spec);
  if (!device.ok()) return device;
  ApplyScopes(device.value(), spec);
  if (auto s = CheckParentScopes(existing, device.value()); !s.ok()) return s;
  if (!existing) {
    store_.Insert(device.value());
  } else {
    store_.Update(device.value());
  }
  CloseIfRevoked(existing, device.value(), after);
  return device;
}

Status Registry::CheckParentScopes(const std::optional<Device>& before, const Device& after) {
  for (const std::string& scope : after.parent_scopes) {
    // A parent kept from before stays even if that Edge device is gone since, so that
    // other changes to the child still go through.
    if (before && std::find(before->parent_scopes.begin(), before->parent_scopes.end(), scope) !=
                      before->parent_scopes.end()) {
      continue;
    }
    const auto parent_id = DeviceIdInEdgeScope(scope);
    std::optional<Device> parent;
    if (parent_id && *parent_id != after.device_id) parent = store_.Find(*parent_id);
    if (!parent || !parent->iot_edge || EdgeScopeOf(parent->device_id, parent->generation_id) != scope) {
      return Status(ErrorCode::kInvalidDeviceScope,
                    "The scope '" + scope + "' of device '" + after.device_id +
                        "' is not the deviceScope of an existing IoT Edge device (other than itself)");
    }
  }
  return Status::Ok();
}

Result<Device> Registry::Get(const std::string& device_id) {
  auto device = store_.Find(device_id);
  if (!device) return NotFound(device_id);
  return WithPresence(std::move(*device));
}

std::vector<Device> Registry::List(size_t top) {
  std::vector<Device> devices = store_.List(std::min(top, kMaxListSize));
  for (Device& d : devices) d = WithPresence(std::move(d));
  return devices;
}

void Registry::Delete(std::string device_id, Precondition precondition, std::function<void(Status)> done) {
  writes_.Run(
      [this, device_id = std::move(device_id), precondition = std::move(precondition), done]() -> std::function<void()> {
        AfterCommit after;
        Status status = DeleteInTransaction(device_id, precondition, after);
        return [after = std::move(after), status = std::move(status), done] {
          for (auto& f : after) f();
          done(status);
        };
      },
      done);
}

Status Registry::Delete(const std::string& device_id, const Precondition& precondition) {
  return Awaited<Status>([&](auto done) { Delete(device_id, precondition, std::move(done)); });
}

Status Registry::DeleteInTransaction(const std::string& device_id, const Precondition& precondition,
                                     AfterCommit& after) {
  auto existing = store_.Find(device_id);
  if (!existing) return NotFound(device_id);
  if (precondition.kind == Precondition::Kind::kEtag && existing->etag() != precondition.etag) {
    return Status::PreconditionFailed("The etag '" + precondition.etag + "' does not match the device's current etag");
  }
  store_.Erase(device_id);
  for (const auto& callback : on_deleted_) callback(device_id);  // its queue and twin go with it
  if (connections_) after.push_back([this, device_id] { connections_->Disconnect(device_id, "the device was deleted"); });
  return Status::Ok();
}

void Registry::Bulk(std::vector<BulkItem> items, std::function<void(Result<BulkResult>)> done) {
  if (items.empty() || items.size() > kMaxBulkItems) {
    return done(Status::ArgumentInvalid("A bulk operation takes 1 to " + std::to_string(kMaxBulkItems) + " devices"));
  }
  writes_.Run(
      [this, items = std::move(items), done]() -> std::function<void()> {
        AfterCommit after;
        BulkResult result = BulkInTransaction(items, after);
        return [after = std::move(after), result = std::move(result), done] {
          for (auto& f : after) f();
          done(result);
        };
      },
      [done](Status s) { done(std::move(s)); });
}

Result<BulkResult> Registry::Bulk(const std::vector<BulkItem>& items) {
  return Awaited<Result<BulkResult>>([&](auto done) { Bulk(items, std::move(done)); });
}

BulkResult Registry::BulkInTransaction(const std::vector<BulkItem>& items, AfterCommit& after) {
  BulkResult result;
  for (const BulkItem& item : items) {
    const std::string mode = Lower(item.import_mode);
    Status status;
    if (auto s = ValidateDeviceId(item.spec.device_id); !s.ok()) {
      status = s;
    } else if (mode == "create") {
      status = PutInTransaction(item.spec, {Precondition::Kind::kNone, {}}, after).status();
    } else if (mode == "update") {
      status = PutInTransaction(item.spec, {Precondition::Kind::kAny, {}}, after).status();
    } else if (mode == "updateifmatchetag") {
      status = PutInTransaction(item.spec, {Precondition::Kind::kEtag, item.etag}, after).status();
    } else if (mode == "delete") {
      status = DeleteInTransaction(item.spec.device_id, {Precondition::Kind::kAny, {}}, after);
    } else if (mode == "deleteifmatchetag") {
      status = DeleteInTransaction(item.spec.device_id, {Precondition::Kind::kEtag, item.etag}, after);
    } else {
      status = Status::ArgumentInvalid("Unknown importMode '" + item.import_mode + "'");
    }
    if (!status.ok()) result.errors.push_back({item.spec.device_id, ErrorCodeName(status.code()), status.message()});
  }
  result.is_successful = result.errors.empty();
  return result;
}

DeviceCounts Registry::Statistics() { return store_.Counts(); }

std::optional<DeviceKeys> Registry::KeysOf(const std::string& device_id) {
  auto device = store_.Find(device_id);
  if (!device || device->auth_type != AuthType::kSas || !device->primary_key) return std::nullopt;
  return DeviceKeys{*device->primary_key, device->secondary_key.value_or(""),
                    device->status == DeviceStatus::kEnabled};
}

}  // namespace iothub
