#include "storage/sqlite_cloud_to_device_store.h"

#include <nlohmann/json.hpp>

namespace iothub::storage {
namespace {

int64_t Micros(TimePoint t) { return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count(); }
TimePoint FromMicros(int64_t us) {
  return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(us)));
}

}  // namespace

int64_t SqliteCloudToDeviceStore::Enqueue(const CloudToDeviceMessage& m) {
  nlohmann::json props = nlohmann::json::array();
  for (const auto& [k, v] : m.application_properties) props.push_back({k, v});
  auto lock = db_.Lock();
  Statement s(db_.handle(),
              "INSERT INTO c2d_messages (device_id, message_id, correlation_id, user_id, content_type, "
              "content_encoding, ack, properties, body, enqueued_us, expiry_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  s.Bind(1, m.device_id)
      .BindOptional(2, m.properties.message_id)
      .BindOptional(3, m.properties.correlation_id)
      .BindOptional(4, m.properties.user_id)
      .BindOptional(5, m.properties.content_type)
      .BindOptional(6, m.properties.content_encoding)
      .Bind(7, m.ack)
      .Bind(8, props.dump())
      .BindBlob(9, m.body)
      .Bind(10, Micros(m.enqueued_time))
      .Bind(11, Micros(m.expiry_time));
  s.Run();
  return sqlite3_last_insert_rowid(db_.handle());
}

std::vector<CloudToDeviceMessage> SqliteCloudToDeviceStore::Pending(const std::string& device_id, TimePoint now) {
  auto lock = db_.Lock();
  Statement expired(db_.handle(), "DELETE FROM c2d_messages WHERE device_id = ? AND expiry_us <= ?");
  expired.Bind(1, device_id).Bind(2, Micros(now)).Run();
  Statement s(db_.handle(),
              "SELECT sequence, message_id, correlation_id, user_id, content_type, content_encoding, ack, properties, "
              "body, enqueued_us, expiry_us, delivery_count FROM c2d_messages WHERE device_id = ? ORDER BY sequence");
  s.Bind(1, device_id);
  std::vector<CloudToDeviceMessage> out;
  while (s.Step()) {
    CloudToDeviceMessage m;
    m.sequence = s.Int(0);
    m.device_id = device_id;
    m.properties.message_id = s.OptionalText(1);
    m.properties.correlation_id = s.OptionalText(2);
    m.properties.user_id = s.OptionalText(3);
    m.properties.content_type = s.OptionalText(4);
    m.properties.content_encoding = s.OptionalText(5);
    m.ack = s.Text(6);
    for (const auto& pair : nlohmann::json::parse(s.Text(7))) {
      m.application_properties.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
    }
    m.body = s.Text(8);
    m.enqueued_time = FromMicros(s.Int(9));
    m.expiry_time = FromMicros(s.Int(10));
    m.delivery_count = static_cast<int>(s.Int(11));
    out.push_back(std::move(m));
  }
  return out;
}

int64_t SqliteCloudToDeviceStore::Count(const std::string& device_id, TimePoint now) {
  auto lock = db_.Lock();
  Statement s(db_.handle(), "SELECT COUNT(*) FROM c2d_messages WHERE device_id = ? AND expiry_us > ?");
  s.Bind(1, device_id).Bind(2, Micros(now));
  s.Step();
  return s.Int(0);
}

void SqliteCloudToDeviceStore::MarkDelivered(int64_t sequence) {
  auto lock = db_.Lock();
  Statement s(db_.handle(), "UPDATE c2d_messages SET delivery_count = delivery_count + 1 WHERE sequence = ?");
  s.Bind(1, sequence).Run();
}

bool SqliteCloudToDeviceStore::Remove(const std::string& device_id, int64_t sequence) {
  auto lock = db_.Lock();
  Statement s(db_.handle(), "DELETE FROM c2d_messages WHERE device_id = ? AND sequence = ?");
  s.Bind(1, device_id).Bind(2, sequence).Run();
  return sqlite3_changes(db_.handle()) > 0;
}

int64_t SqliteCloudToDeviceStore::Purge(const std::string& device_id) {
  auto lock = db_.Lock();
  Statement s(db_.handle(), "DELETE FROM c2d_messages WHERE device_id = ?");
  s.Bind(1, device_id).Run();
  return sqlite3_changes(db_.handle());
}

}  // namespace iothub::storage
