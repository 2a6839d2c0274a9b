#include "storage/sqlite_twin_store.h"

namespace iothub::storage {

using nlohmann::json;

std::optional<TwinDocument> SqliteTwinStore::Load(const std::string& device_id) {
  auto lock = db_.Lock();
  Statement s(db_,
              "SELECT tags, desired, desired_metadata, desired_version, reported, reported_metadata, reported_version, "
              "version FROM twins WHERE device_id = ?");
  s.Bind(1, device_id);
  if (!s.Step()) return std::nullopt;
  TwinDocument t;
  t.tags = json::parse(s.Text(0));
  t.desired = json::parse(s.Text(1));
  t.desired_metadata = json::parse(s.Text(2));
  t.desired_version = s.Int(3);
  t.reported = json::parse(s.Text(4));
  t.reported_metadata = json::parse(s.Text(5));
  t.reported_version = s.Int(6);
  t.version = s.Int(7);
  return t;
}

void SqliteTwinStore::Save(const std::string& device_id, const TwinDocument& t) {
  auto lock = db_.Lock();
  Statement s(db_,
              "INSERT OR REPLACE INTO twins (device_id, tags, desired, desired_metadata, desired_version, reported, "
              "reported_metadata, reported_version, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  s.Bind(1, device_id)
      .Bind(2, t.tags.dump())
      .Bind(3, t.desired.dump())
      .Bind(4, t.desired_metadata.dump())
      .Bind(5, t.desired_version)
      .Bind(6, t.reported.dump())
      .Bind(7, t.reported_metadata.dump())
      .Bind(8, t.reported_version)
      .Bind(9, t.version);
  s.Run();
}

void SqliteTwinStore::Remove(const std::string& device_id) {
  auto lock = db_.Lock();
  Statement s(db_, "DELETE FROM twins WHERE device_id = ?");
  s.Bind(1, device_id).Run();
}

}  // namespace iothub::storage
