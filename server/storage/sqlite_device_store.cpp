#include "storage/sqlite_device_store.h"

namespace iothub::storage {
namespace {

constexpr const char* kColumns =
    "device_id, generation_id, version, status, status_reason, status_updated_time_us, auth_type, primary_key, "
    "secondary_key, primary_thumbprint, secondary_thumbprint, iot_edge, device_scope, parent_scopes, connected, "
    "connection_state_updated_us, last_activity_us";

int64_t ToMicros(TimePoint t) {
  return t == kNever ? 0 : std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

TimePoint FromMicros(int64_t us) {
  return us == 0 ? kNever : TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(us)));
}

std::string JoinLines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : "\n") + s;
  return out;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

Device ReadDevice(const Statement& s) {
  Device d;
  d.device_id = s.Text(0);
  d.generation_id = s.Text(1);
  d.version = s.Int(2);
  d.status = ParseDeviceStatus(s.Text(3)).value_or(DeviceStatus::kEnabled);
  d.status_reason = s.OptionalText(4);
  d.status_updated_time = FromMicros(s.Int(5));
  d.auth_type = ParseAuthType(s.Text(6)).value_or(AuthType::kSas);
  d.primary_key = s.OptionalText(7);
  d.secondary_key = s.OptionalText(8);
  d.primary_thumbprint = s.OptionalText(9);
  d.secondary_thumbprint = s.OptionalText(10);
  d.iot_edge = s.Int(11) != 0;
  d.device_scope = s.OptionalText(12);
  d.parent_scopes = SplitLines(s.Text(13));
  d.connected = s.Int(14) != 0;
  d.connection_state_updated_time = FromMicros(s.Int(15));
  d.last_activity_time = FromMicros(s.Int(16));
  return d;
}

// Binds every column of kColumns, in order, from position 1.
void BindDevice(Statement& s, const Device& d) {
  s.Bind(1, d.device_id)
      .Bind(2, d.generation_id)
      .Bind(3, d.version)
      .Bind(4, std::string_view(ToString(d.status)))
      .BindOptional(5, d.status_reason)
      .Bind(6, ToMicros(d.status_updated_time))
      .Bind(7, std::string_view(ToString(d.auth_type)))
      .BindOptional(8, d.primary_key)
      .BindOptional(9, d.secondary_key)
      .BindOptional(10, d.primary_thumbprint)
      .BindOptional(11, d.secondary_thumbprint)
      .Bind(12, int64_t{d.iot_edge})
      .BindOptional(13, d.device_scope)
      .Bind(14, JoinLines(d.parent_scopes))
      .Bind(15, int64_t{d.connected})
      .Bind(16, ToMicros(d.connection_state_updated_time))
      .Bind(17, ToMicros(d.last_activity_time));
}

}  // namespace

std::optional<Device> SqliteDeviceStore::Find(const std::string& device_id) {
  auto lock = db_.Lock();
  Statement s(db_, std::string("SELECT ") + kColumns + " FROM devices WHERE device_id = ?");
  s.Bind(1, device_id);
  if (!s.Step()) return std::nullopt;
  return ReadDevice(s);
}

std::vector<Device> SqliteDeviceStore::List(size_t limit) {
  auto lock = db_.Lock();
  Statement s(db_, std::string("SELECT ") + kColumns + " FROM devices ORDER BY seq LIMIT ?");
  s.Bind(1, static_cast<int64_t>(limit));
  std::vector<Device> out;
  while (s.Step()) out.push_back(ReadDevice(s));
  return out;
}

void SqliteDeviceStore::Insert(const Device& device) {
  auto lock = db_.Lock();
  Statement s(db_, std::string("INSERT INTO devices (") + kColumns +
                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  BindDevice(s, device);
  s.Run();
}

void SqliteDeviceStore::Update(const Device& device) {
  auto lock = db_.Lock();
  Statement s(db_,
              "UPDATE devices SET generation_id = ?2, version = ?3, status = ?4, status_reason = ?5, "
              "status_updated_time_us = ?6, auth_type = ?7, primary_key = ?8, secondary_key = ?9, "
              "primary_thumbprint = ?10, secondary_thumbprint = ?11, iot_edge = ?12, device_scope = ?13, "
              "parent_scopes = ?14, connected = ?15, connection_state_updated_us = ?16, last_activity_us = ?17 "
              "WHERE device_id = ?1");
  BindDevice(s, device);
  s.Run();
}

bool SqliteDeviceStore::Erase(const std::string& device_id) {
  auto lock = db_.Lock();
  Statement s(db_, "DELETE FROM devices WHERE device_id = ?");
  s.Bind(1, device_id);
  s.Run();
  return sqlite3_changes(db_.handle()) > 0;
}

DeviceCounts SqliteDeviceStore::Counts() {
  auto lock = db_.Lock();
  Statement s(db_,
              "SELECT COUNT(*), COALESCE(SUM(status = 'enabled'), 0), COALESCE(SUM(status = 'disabled'), 0) FROM devices");
  s.Step();
  return {s.Int(0), s.Int(1), s.Int(2)};
}

void SqliteDeviceStore::UpdatePresence(const std::string& device_id, bool connected, TimePoint state_time,
                                       TimePoint last_activity) {
  auto lock = db_.Lock();
  Statement s(db_,
              "UPDATE devices SET connected = ?, connection_state_updated_us = ?, last_activity_us = ? "
              "WHERE device_id = ?");
  s.Bind(1, int64_t{connected}).Bind(2, ToMicros(state_time)).Bind(3, ToMicros(last_activity)).Bind(4, device_id);
  s.Run();
}

void SqliteDeviceStore::ResetPresence() {
  auto lock = db_.Lock();
  Statement s(db_, "UPDATE devices SET connected = 0, connection_state_updated_us = ? WHERE connected = 1");
  s.Bind(1, ToMicros(Clock::now())).Run();
}

void SqliteDeviceStore::InTransaction(const std::function<void()>& work) { db_.InTransaction(work); }

}  // namespace iothub::storage
