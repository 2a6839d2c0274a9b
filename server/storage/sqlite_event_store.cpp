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

// Reads [[name, value], ...] straight into pairs: a catching-up reader decodes every
// event's annotations, and building a JSON document for each costs more than the query.
class PairsReader : public nlohmann::json_sax<json> {
 public:
  explicit PairsReader(Properties& out) : out_(out) {}
  bool string(string_t& value) override {
    if (depth_ != 2) return false;
    if (!key_) {
      key_ = std::move(value);
    } else {
      out_.emplace_back(std::move(*key_), std::move(value));
      key_.reset();
    }
    return true;
  }
  bool start_array(std::size_t) override { return ++depth_ <= 2; }
  bool end_array() override {
    if (depth_-- == 2 && key_) return false;  // a pair of one
    return true;
  }
  bool null() override { return false; }
  bool boolean(bool) override { return false; }
  bool number_integer(number_integer_t) override { return false; }
  bool number_unsigned(number_unsigned_t) override { return false; }
  bool number_float(number_float_t, const string_t&) override { return false; }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override { return false; }
  bool key(string_t&) override { return false; }
  bool end_object() override { return false; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw StorageError(std::string("a stored event's properties are damaged: ") + e.what());
  }

 private:
  Properties& out_;
  int depth_ = 0;
  std::optional<std::string> key_;
};

Properties PairsFromJson(const std::string& text) {
  Properties out;
  if (text == "[]") return out;  // most events have no application properties: no parser needed
  PairsReader reader(out);
  if (!json::sax_parse(text, &reader)) throw StorageError("a stored event's properties are not [[name, value], ...]");
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
  if (text == "{}") return {};
  json j = json::parse(text);
  auto get = [&](const char* name) -> std::optional<std::string> {
    auto it = j.find(name);
    return it == j.end() ? std::nullopt : std::optional<std::string>(it->get<std::string>());
  };
  return {get("messageId"), get("correlationId"), get("userId"), get("contentType"), get("contentEncoding"),
          get("absoluteExpiryTime")};
}

// Turns rows into events. A device's events carry the same annotations (its id, auth
// method, generation), and often the same properties, event after event: what was
// decoded for the row before is reused when the text is the same.
class RowDecoder {
 public:
  Event operator()(const Statement& s) {
    Event e;
    e.partition = static_cast<int>(s.Int(0));
    e.sequence_number = s.Int(1);
    e.offset = s.Int(2);
    e.enqueued_time = TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(s.Int(3))));
    e.body = s.Text(4);
    e.properties = properties_.Decode(s.Text(5), SystemPropertiesFromJson);
    e.application_properties = application_properties_.Decode(s.Text(6), PairsFromJson);
    e.annotations = annotations_.Decode(s.Text(7), PairsFromJson);
    return e;
  }

 private:
  template <class T>
  struct Last {
    std::string text;
    T value{};
    bool valid = false;
    T Decode(std::string current, T (*decode)(const std::string&)) {
      if (!valid || current != text) {
        value = decode(current);
        text = std::move(current);
        valid = true;
      }
      return value;
    }
  };
  Last<SystemProperties> properties_;
  Last<Properties> application_properties_;
  Last<Properties> annotations_;
};

}  // namespace

SqliteEventStore::SqliteEventStore(SqliteDatabase& db) : db_(db), shared_reader_(db.handle()) {
  if (!db_.in_memory()) readers_ = std::make_unique<SqliteReadPool>(db_.path());
}

std::optional<int> SqliteEventStore::PartitionCount() {
  auto lock = db_.Lock();
  Statement s(db_, "SELECT COUNT(*) FROM event_partitions");
  s.Step();
  int count = static_cast<int>(s.Int(0));
  return count == 0 ? std::nullopt : std::optional<int>(count);
}

void SqliteEventStore::CreatePartitions(int count) {
  db_.InTransaction([&] {
    for (int p = 0; p < count; ++p) {
      Statement s(db_,
                  "INSERT OR IGNORE INTO event_partitions (partition_id, next_sequence_number, next_offset) "
                  "VALUES (?, 0, 0)");
      s.Bind(1, int64_t{p}).Run();
    }
  });
}

std::vector<PartitionPosition> SqliteEventStore::Positions() {
  auto lock = db_.Lock();
  Statement s(db_,
              "SELECT next_sequence_number, next_offset FROM event_partitions ORDER BY partition_id");
  std::vector<PartitionPosition> out;
  while (s.Step()) out.push_back({s.Int(0), s.Int(1)});
  return out;
}

void SqliteEventStore::Append(const std::vector<const Event*>& events, const std::vector<PartitionPosition>& positions) {
  db_.InTransaction([&] {
    Statement insert(db_,
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
    Statement position(db_,
                       "UPDATE event_partitions SET next_sequence_number = ?, next_offset = ? WHERE partition_id = ?");
    for (size_t p = 0; p < positions.size(); ++p) {
      position.Bind(1, positions[p].next_sequence_number).Bind(2, positions[p].next_offset).Bind(3, int64_t(p));
      position.Run();
      position.Reset();
    }
  });
}

template <class F>
auto SqliteEventStore::Reading(F&& f) {
  if (readers_) {
    auto lease = readers_->Acquire();
    return f(*lease);
  }
  auto lock = db_.Lock();
  return f(shared_reader_);
}

std::vector<Event> SqliteEventStore::Read(const EventQuery& q) {
  // One query per partition, each served by the (partition_id, sequence_number) index.
  std::vector<int> partitions;
  if (q.partition) {
    partitions.push_back(*q.partition);
  } else {
    for (int p = 0; p < PartitionCount().value_or(0); ++p) partitions.push_back(p);
  }
  std::vector<Event> out;
  Reading([&](SqliteReadPool::Connection& c) {
    Statement& s = c.Prepared(
        "SELECT partition_id, sequence_number, byte_offset, enqueued_time_us, body, properties, "
        "application_properties, annotations FROM events "
        "WHERE partition_id = ?1 AND sequence_number >= ?2 AND enqueued_time_us >= ?3 "
        "AND (?4 IS NULL OR device_id = ?4) ORDER BY sequence_number LIMIT ?5");
    RowDecoder decode;
    for (int p : partitions) {
      if (out.size() >= q.max_count) break;
      s.Reset();
      s.Bind(1, int64_t{p}).Bind(2, q.from_sequence_number);
      s.Bind(3, q.from_enqueued_time ? Micros(*q.from_enqueued_time) : INT64_MIN);
      s.BindOptional(4, q.device_id).Bind(5, static_cast<int64_t>(q.max_count - out.size()));
      while (s.Step()) out.push_back(decode(s));
    }
    s.Reset();
    return 0;
  });
  return out;
}

std::vector<Event> SqliteEventStore::ReadPartition(int partition, int64_t from, size_t max) {
  std::vector<Event> out;
  Reading([&](SqliteReadPool::Connection& c) {
    Statement& s = c.Prepared(
        "SELECT partition_id, sequence_number, byte_offset, enqueued_time_us, body, properties, "
        "application_properties, annotations FROM events "
        "WHERE partition_id = ?1 AND sequence_number >= ?2 ORDER BY sequence_number LIMIT ?3");
    s.Bind(1, int64_t{partition}).Bind(2, from).Bind(3, static_cast<int64_t>(max));
    RowDecoder decode;
    while (s.Step()) out.push_back(decode(s));
    s.Reset();
    return 0;
  });
  return out;
}

std::optional<int64_t> SqliteEventStore::FirstSequenceAtOrAfter(int partition, Key key, int64_t value) {
  // Offsets and enqueued times grow with the sequence number within a partition, so a
  // binary search over sequence numbers, each probe served by the index, finds the
  // first one without an index of their own (which every append would pay for).
  return Reading([&](SqliteReadPool::Connection& c) -> std::optional<int64_t> {
    Statement& first = c.Prepared(
        "SELECT sequence_number, byte_offset, enqueued_time_us FROM events "
        "WHERE partition_id = ?1 AND sequence_number >= ?2 ORDER BY sequence_number LIMIT 1");
    Statement& last = c.Prepared(
        "SELECT sequence_number, byte_offset, enqueued_time_us FROM events "
        "WHERE partition_id = ?1 ORDER BY sequence_number DESC LIMIT 1");
    const int column = key == Key::kOffset ? 1 : 2;
    last.Bind(1, int64_t{partition});
    if (!last.Step() || last.Int(column) < value) {
      last.Reset();
      return std::nullopt;
    }
    int64_t high = last.Int(0);  // an event at `high` qualifies
    last.Reset();
    int64_t low = 0;
    while (low < high) {
      const int64_t mid = low + (high - low) / 2;
      first.Bind(1, int64_t{partition}).Bind(2, mid);
      first.Step();  // there is one: `high` >= mid exists
      const int64_t at = first.Int(0);
      const bool qualifies = first.Int(column) >= value;
      first.Reset();
      if (qualifies) {
        high = at;
      } else {
        low = at + 1;
      }
    }
    return high;
  });
}

int64_t SqliteEventStore::DeleteEnqueuedBefore(TimePoint cutoff) {
  auto lock = db_.Lock();
  Statement s(db_, "DELETE FROM events WHERE enqueued_time_us < ?");
  s.Bind(1, Micros(cutoff)).Run();
  return sqlite3_changes(db_.handle());
}

}  // namespace iothub::storage
