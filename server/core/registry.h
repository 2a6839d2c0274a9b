// The identity registry: creating, reading, updating and deleting device
// identities with IoT Hub's rules for keys, ETags and bulk operations.
// Thread-safe: each write runs its checks and its writes in one transaction, after the
// writes before it; concurrent writes share one commit (group_commit.h).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/device_connections.h"
#include "core/device_store.h"
#include "core/group_commit.h"
#include "core/sas_authenticator.h"
#include "core/status.h"

namespace iothub {

// The If-Match / If-None-Match condition of a write.
struct Precondition {
  enum class Kind {
    kNone,          // no header: create only (an existing device is a conflict)
    kIfNoneMatch,   // If-None-Match: * : create only (an existing device fails the precondition)
    kAny,           // If-Match: * : the device must exist
    kEtag,          // If-Match: "<etag>" : the device must exist with this etag
  };
  Kind kind = Kind::kNone;
  std::string etag;  // unquoted, for kEtag
};

struct BulkItem {
  DeviceSpec spec;
  std::string import_mode;  // create, update, updateIfMatchETag, delete, deleteIfMatchETag (any case)
  std::string etag;         // for the *IfMatchETag modes
};

struct BulkError {
  std::string device_id;
  std::string error_code;    // IoT Hub's name, e.g. "DeviceAlreadyExists"
  std::string error_status;  // human-readable
};

struct BulkResult {
  bool is_successful = true;
  std::vector<BulkError> errors;
};

class Registry {
 public:
  static constexpr size_t kMaxBulkItems = 100;
  static constexpr size_t kMaxListSize = 1000;

  // connections, when given, supplies connection state and is told to close the
  // connection of a device that is deleted, disabled or given new credentials.
  explicit Registry(DeviceStore& store, DeviceConnections* connections = nullptr);

  // The writes answer through `done` once they are durable: possibly before returning,
  // possibly on the thread of another writer whose commit they shared. Each also has a
  // form that waits, which must not be called from inside a `done`.

  // PUT /devices/{id}: creates or updates as the precondition says.
  void Put(DeviceSpec spec, Precondition precondition, std::function<void(Result<Device>)> done);
  Result<Device> Put(const DeviceSpec& spec, const Precondition& precondition);
  void Delete(std::string device_id, Precondition precondition, std::function<void(Status)> done);
  Status Delete(const std::string& device_id, const Precondition& precondition);
  // 1 to kMaxBulkItems operations that land together; each one that fails is reported
  // and leaves its device untouched.
  void Bulk(std::vector<BulkItem> items, std::function<void(Result<BulkResult>)> done);
  Result<BulkResult> Bulk(const std::vector<BulkItem>& items);

  Result<Device> Get(const std::string& device_id);
  std::vector<Device> List(size_t top);
  DeviceCounts Statistics();

  // Supplies cloudToDeviceMessageCount (set once, before serving).
  void SetMessageCounter(std::function<int64_t(const std::string&)> counter) { message_counter_ = std::move(counter); }
  // Told when a device is deleted, to drop what belongs to it (its queue, its twin). Set up before serving.
  void OnDeviceDeleted(std::function<void(const std::string&)> callback) { on_deleted_.push_back(std::move(callback)); }

  // For the SAS authenticator: a SAS device's keys, nullopt otherwise.
  std::optional<DeviceKeys> KeysOf(const std::string& device_id);

 private:
  // What may only happen once a write has committed (closing a device's connection).
  using AfterCommit = std::vector<std::function<void()>>;
  // Run inside the write's transaction.
  Result<Device> PutInTransaction(const DeviceSpec& spec, const Precondition& precondition, AfterCommit& after);
  Status DeleteInTransaction(const std::string& device_id, const Precondition& precondition, AfterCommit& after);
  BulkResult BulkInTransaction(const std::vector<BulkItem>& items, AfterCommit& after);

  // Each parent scope `after` gains must be the scope of another existing Edge device.
  Status CheckParentScopes(const std::optional<Device>& before, const Device& after);
  // A device as served: its derived scopes, connection state and message count.
  Device WithPresence(Device device) const;
  void CloseIfRevoked(const std::optional<Device>& before, const Device& device, AfterCommit& after);

  DeviceStore& store_;
  DeviceConnections* connections_;
  std::function<int64_t(const std::string&)> message_counter_;
  std::vector<std::function<void(const std::string&)>> on_deleted_;
  GroupCommit writes_;
};

}  // namespace iothub
