#include "storage/sqlite_event_store.h"

#include <nlohmann/json.hpp>

namespace iothub::storage {
namespace {

using nlohmann::json;

int64_t Micros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

json PairsToJson(const Properties& pairs) {
  json out = json::array();
  for (const auto& [k, v] : pairs) out.push_back({k, v});
  return out;
}

Properties PairsFromJson(const std::string& text) {
  Properties out;
  for (const auto& pair : json::parse(text)) out.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
  return out;
}

json SystemPropertiesToJson(const SystemProperties& p) {
  json out = json::object();
  auto put = [&](const char* name, const std::optional<std::string>& v) {
    if (v) out[name] = *v;
  };
  put("messageId", p.message_id);
  put("correlationId", p.correlation_id);
  put("userId", p.user_id);
  put("contentType", p.content_type);
  put("contentEncoding", p.content_encoding);
  put("absoluteExpiryTime", p.absolute_expiry_time);
  return out;
}

SystemProperties SystemPropertiesFromJson(const std::string& text) {
  json j = json::parse(text);
  auto get = [&](const char* name) -> std::optional<std::string> {
    auto it = j.find(name);
    return it == j.end() ? std::nullopt : std::optional<std::string>(it->get<std::string>());
  };
  return {get("messageId"), get("correlationId"), get("userId"), get("contentType"), get("contentEncoding"),
          get("absoluteExpiryTime")};
}

}  // namespace

std::optional<int> SqliteEventStore::PartitionCount() {
  auto lock = db_.Lock();
  Statement s(db_.handle(), "SELECT COUNT(*) FROM event_partitions");
  s.Step();
  int count = static_cast<int>(s.Int(0));
  return count == 0 ? std::nullopt : std::optional<int>(count);
}

void SqliteEventStore::CreatePartitions(int count) {
  auto lock = db_.Lock();
  db_.Exec("BEGIN IMMEDIATE");
  for (int p = 0; p < count; ++p) {
    Statement s(db_.handle(),
                "INSERT OR IGNORE INTO event_partitions (partition_id, next_sequence_number, next_offset) "
                "VALUES (?, 0, 0)");
    s.Bind(1, int64_t{p}).Run();
  }
  db_.Exec("COMMIT");
}

std::vector<PartitionPosition> SqliteEventStore::Positions() {
  auto lock = db_.Lock();
  Statement s(db_.handle(),
              "SELECT next_sequence_number, next_offset FROM event_partitions ORDER BY partition_id");
  std::vector<PartitionPosition> out;
  while (s.Step()) out.push_back({s.Int(0), s.Int(1)});
  return out;
}

void SqliteEventStore::Append(const std::vector<const Event*>& events, const std::vector<PartitionPosition>& positions) {
  auto lock = db_.Lock();
  db_.Exec("BEGIN IMMEDIATE");
  try {
    Statement insert(db_.handle(),
                     "INSERT INTO events (partition_id, sequence_number, byte_offset, enqueued_time_us, device_id, "
                     "body, properties, application_properties, annotations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    for (const Event* e : events) {
      const std::string* device = e->Annotation("iothub-connection-device-id");
      insert.Bind(1, int64_t{e->partition})
          .Bind(2, e->sequence_number)
          .Bind(3, e->offset)
          .Bind(4, Micros(e->enqueued_time))
          .Bind(5, device ? std::string_view(*device) : std::string_view())
          .BindBlob(6, e->body)
          .Bind(7, SystemPropertiesToJson(e->properties).dump())
          .Bind(8, PairsToJson(e->application_properties).dump())
          .Bind(9, PairsToJson(e->annotations).dump());
      insert.Run();
      insert.Reset();
    }
    Statement position(db_.handle(),
                       "UPDATE event_partitions SET next_sequence_number = ?, next_offset = ? WHERE partition_id = ?");
    for (size_t p = 0; p < positions.size(); ++p) {
      position.Bind(1, positions[p].next_sequence_number).Bind(2, positions[p].next_offset).Bind(3, int64_t(p));
      position.Run();
      position.Reset();
    }
    db_.Exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<Event> SqliteEventStore::Read(const EventQuery& q) {
  auto lock = db_.Lock();
  Statement s(db_.handle(),
              "SELECT partition_id, sequence_number, byte_offset, enqueued_time_us, body, properties, "
              "application_properties, annotations FROM events "
              "WHERE (?1 IS NULL OR partition_id = ?1) AND sequence_number >= ?2 "
              "AND (?3 IS NULL OR enqueued_time_us >= ?3) AND (?4 IS NULL OR device_id = ?4) "
              "ORDER BY partition_id, sequence_number LIMIT ?5");
  if (q.partition) s.Bind(1, int64_t{*q.partition});
  s.Bind(2, q.from_sequence_number);
  if (q.from_enqueued_time) s.Bind(3, Micros(*q.from_enqueued_time));
  s.BindOptional(4, q.device_id);
  s.Bind(5, static_cast<int64_t>(q.max_count));
  std::vector<Event> out;
  while (s.Step()) {
    Event e;
    e.partition = static_cast<int>(s.Int(0));
    e.sequence_number = s.Int(1);
    e.offset = s.Int(2);
    e.enqueued_time = TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(s.Int(3))));
    e.body = s.Text(4);
    e.properties = SystemPropertiesFromJson(s.Text(5));
    e.application_properties = PairsFromJson(s.Text(6));
    e.annotations = PairsFromJson(s.Text(7));
    out.push_back(std::move(e));
  }
  return out;
}

int64_t SqliteEventStore::DeleteEnqueuedBefore(TimePoint cutoff) {
  auto lock = db_.Lock();
  Statement s(db_.handle(), "DELETE FROM events WHERE enqueued_time_us < ?");
  s.Bind(1, Micros(cutoff)).Run();
  return sqlite3_changes(db_.handle());
}

}  // namespace iothub::storage
