#include "storage/sqlite_cloud_to_device_store.h"

#include <nlohmann/json.hpp>

namespace iothub::storage {
namespace {

int64_t Micros(TimePoint t) { return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count(); }
TimePoint FromMicros(int64_t us) {
  return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(us)));
}

constexpr const char* kMessageColumns =
    "sequence, device_id, message_id, correlation_id, user_id, content_type, content_encoding, ack, properties, body, "
    "enqueued_us, expiry_us, delivery_count, device_generation_id, lock_token, lock_expiry_us";

CloudToDeviceMessage ReadMessage(const Statement& s) {
  CloudToDeviceMessage m;
  m.sequence = s.Int(0);
  m.device_id = s.Text(1);
  m.properties.message_id = s.OptionalText(2);
  m.properties.correlation_id = s.OptionalText(3);
  m.properties.user_id = s.OptionalText(4);
  m.properties.content_type = s.OptionalText(5);
  m.properties.content_encoding = s.OptionalText(6);
  m.ack = s.Text(7);
  for (const auto& pair : nlohmann::json::parse(s.Text(8))) {
    m.application_properties.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
  }
  m.body = s.Text(9);
  m.enqueued_time = FromMicros(s.Int(10));
  m.expiry_time = FromMicros(s.Int(11));
  m.delivery_count = static_cast<int>(s.Int(12));
  m.device_generation_id = s.Text(13);
  m.lock_token = s.OptionalText(14).value_or("");
  if (!m.lock_token.empty()) m.lock_expiry = FromMicros(s.Int(15));
  return m;
}

}  // namespace

int64_t SqliteCloudToDeviceStore::Enqueue(const CloudToDeviceMessage& m) {
  nlohmann::json props = nlohmann::json::array();
  for (const auto& [k, v] : m.application_properties) props.push_back({k, v});
  auto lock = db_.Lock();
  int64_t sequence = 0;
  // Committed without its own fsync: the caller waits for WhenDurable, which syncs many at once.
  db_.InLightTransaction([&] {
    Statement s(db_,
                "INSERT INTO c2d_messages (device_id, message_id, correlation_id, user_id, content_type, "
                "content_encoding, ack, properties, body, enqueued_us, expiry_us, device_generation_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
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
        .Bind(11, Micros(m.expiry_time))
        .Bind(12, m.device_generation_id);
    s.Run();
    sequence = sqlite3_last_insert_rowid(db_.handle());
  });
  return sequence;
}

void SqliteCloudToDeviceStore::WhenDurable(std::function<void(bool durable)> done) {
  db_.WhenDurable(std::move(done));
}

void SqliteCloudToDeviceStore::DrainDurable() { db_.DrainDurable(); }

std::vector<CloudToDeviceMessage> SqliteCloudToDeviceStore::Messages(const std::string& device_id) {
  auto lock = db_.Lock();
  Statement s(db_, std::string("SELECT ") + kMessageColumns +
                       " FROM c2d_messages WHERE device_id = ? ORDER BY sequence");
  s.Bind(1, device_id);
  std::vector<CloudToDeviceMessage> out;
  while (s.Step()) out.push_back(ReadMessage(s));
  return out;
}

std::vector<CloudToDeviceMessage> SqliteCloudToDeviceStore::Due(const std::string& device_id, TimePoint now) {
  auto lock = db_.Lock();
  Statement s(db_, std::string("SELECT ") + kMessageColumns +
                       " FROM c2d_messages WHERE device_id = ?1 AND (expiry_us <= ?2 OR lock_token IS NULL OR "
                       "lock_expiry_us <= ?2) ORDER BY sequence");
  s.Bind(1, device_id).Bind(2, Micros(now));
  std::vector<CloudToDeviceMessage> out;
  while (s.Step()) out.push_back(ReadMessage(s));
  return out;
}

std::optional<CloudToDeviceMessage> SqliteCloudToDeviceStore::LockedBy(const std::string& device_id,
                                                                       const std::string& lock_token) {
  auto lock = db_.Lock();
  Statement s(db_, std::string("SELECT ") + kMessageColumns +
                       " FROM c2d_messages WHERE device_id = ? AND lock_token = ?");
  s.Bind(1, device_id).Bind(2, lock_token);
  if (!s.Step()) return std::nullopt;
  return ReadMessage(s);
}

std::vector<CloudToDeviceMessage> SqliteCloudToDeviceStore::Expired(TimePoint now, size_t max) {
  auto lock = db_.Lock();
  Statement s(db_, std::string("SELECT ") + kMessageColumns +
                       " FROM c2d_messages WHERE expiry_us <= ? ORDER BY sequence LIMIT ?");
  s.Bind(1, Micros(now)).Bind(2, static_cast<int64_t>(max));
  std::vector<CloudToDeviceMessage> out;
  while (s.Step()) out.push_back(ReadMessage(s));
  return out;
}

int64_t SqliteCloudToDeviceStore::Count(const std::string& device_id, TimePoint now) {
  auto lock = db_.Lock();
  Statement s(db_, "SELECT COUNT(*) FROM c2d_messages WHERE device_id = ? AND expiry_us > ?");
  s.Bind(1, device_id).Bind(2, Micros(now));
  s.Step();
  return s.Int(0);
}

void SqliteCloudToDeviceStore::SetLock(int64_t sequence, const std::string& lock_token, TimePoint lock_expiry,
                                       int delivery_count) {
  auto lock = db_.Lock();
  // A lease is not made durable on its own: a lock lasts a minute, and a delivery count lost to a
  // power cut only lets a message come once more. The next durable commit (its completion) covers it.
  db_.InLightTransaction([&] {
    Statement s(db_,
                "UPDATE c2d_messages SET lock_token = ?, lock_expiry_us = ?, delivery_count = ? WHERE sequence = ?");
    s.BindOptional(1, lock_token.empty() ? std::nullopt : std::optional<std::string>(lock_token))
        .Bind(2, lock_token.empty() ? int64_t{0} : Micros(lock_expiry))
        .Bind(3, static_cast<int64_t>(delivery_count))
        .Bind(4, sequence);
    s.Run();
  });
}

void SqliteCloudToDeviceStore::Remove(const std::vector<CloudToDeviceRemoval>& removals) {
  if (removals.empty()) return;
  auto lock = db_.Lock();
  // Committed without its own fsync, as Enqueue: the caller asks WhenDurable.
  db_.InLightTransaction([&] {
    Statement remove(db_, "DELETE FROM c2d_messages WHERE sequence = ?");
    Statement feedback(db_,
                       "INSERT INTO c2d_feedback (original_message_id, device_id, device_generation_id, enqueued_us, "
                       "status_code, description) VALUES (?, ?, ?, ?, ?, ?)");
    for (const CloudToDeviceRemoval& r : removals) {
      remove.Bind(1, r.sequence).Run();
      const bool removed = sqlite3_changes(db_.handle()) > 0;
      remove.Reset();
      // A message removed by someone else in between makes no second record.
      if (!r.feedback || !removed) continue;
      feedback.Bind(1, r.feedback->original_message_id)
          .Bind(2, r.feedback->device_id)
          .Bind(3, r.feedback->device_generation_id)
          .Bind(4, Micros(r.feedback->enqueued_time))
          .Bind(5, FeedbackStatusName(r.feedback->status))
          .Bind(6, r.feedback->description)
          .Run();
      feedback.Reset();
    }
  });
}

int64_t SqliteCloudToDeviceStore::Purge(const std::string& device_id) {
  auto lock = db_.Lock();
  Statement s(db_, "DELETE FROM c2d_messages WHERE device_id = ?");
  s.Bind(1, device_id).Run();
  return sqlite3_changes(db_.handle());
}

std::vector<FeedbackRecord> SqliteCloudToDeviceStore::LockFeedback(size_t max, const std::string& lock_token,
                                                                   TimePoint now, TimePoint lock_expiry,
                                                                   TimePoint expired_before) {
  auto lock = db_.Lock();
  std::vector<FeedbackRecord> out;
  // Locking a batch need not be durable on its own (the lock runs out in a minute); dropping
  // expired records neither: they would be dropped again.
  db_.InLightTransaction([&] {
    Statement drop(db_, "DELETE FROM c2d_feedback WHERE enqueued_us <= ?");
    drop.Bind(1, Micros(expired_before)).Run();
    Statement take(db_,
                   "UPDATE c2d_feedback SET lock_token = ?, lock_expiry_us = ? WHERE sequence IN "
                   "(SELECT sequence FROM c2d_feedback WHERE lock_token IS NULL OR lock_expiry_us <= ? "
                   "ORDER BY sequence LIMIT ?)");
    take.Bind(1, lock_token).Bind(2, Micros(lock_expiry)).Bind(3, Micros(now)).Bind(4, static_cast<int64_t>(max)).Run();
    Statement read(db_,
                   "SELECT sequence, original_message_id, device_id, device_generation_id, enqueued_us, status_code, "
                   "description FROM c2d_feedback WHERE lock_token = ? ORDER BY sequence");
    read.Bind(1, lock_token);
    while (read.Step()) {
      FeedbackRecord r;
      r.sequence = read.Int(0);
      r.original_message_id = read.Text(1);
      r.device_id = read.Text(2);
      r.device_generation_id = read.Text(3);
      r.enqueued_time = FromMicros(read.Int(4));
      r.status = FeedbackStatusFromName(read.Text(5)).value_or(FeedbackStatus::kSuccess);
      r.description = read.Text(6);
      out.push_back(std::move(r));
    }
  });
  return out;
}

size_t SqliteCloudToDeviceStore::CompleteFeedback(const std::string& lock_token, TimePoint now) {
  auto lock = db_.Lock();
  size_t removed = 0;
  // No one waits for it to be durable: lost to a power cut, the records are only sent again.
  db_.InLightTransaction([&] {
    Statement s(db_, "DELETE FROM c2d_feedback WHERE lock_token = ? AND lock_expiry_us > ?");
    s.Bind(1, lock_token).Bind(2, Micros(now)).Run();
    removed = static_cast<size_t>(sqlite3_changes(db_.handle()));
  });
  if (removed > 0) db_.WhenDurable([](bool) {});
  return removed;
}

size_t SqliteCloudToDeviceStore::AbandonFeedback(const std::string& lock_token, TimePoint now) {
  auto lock = db_.Lock();
  size_t unlocked = 0;
  // A lock, like LockFeedback's: not made durable on its own.
  db_.InLightTransaction([&] {
    Statement s(db_,
                "UPDATE c2d_feedback SET lock_token = NULL, lock_expiry_us = 0 WHERE lock_token = ? AND "
                "lock_expiry_us > ?");
    s.Bind(1, lock_token).Bind(2, Micros(now)).Run();
    unlocked = static_cast<size_t>(sqlite3_changes(db_.handle()));
  });
  return unlocked;
}

}  // namespace iothub::storage
