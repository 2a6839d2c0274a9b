#include "core/event_reader.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <thread>

#include "storage/sqlite_database.h"
#include "storage/sqlite_event_store.h"
#include "integration/wait_until.h"

namespace iothub {
namespace {

using namespace std::chrono_literals;

Event DeviceEvent(const std::string& device, const std::string& body) {
  Event e;
  e.body = body;
  e.annotations = {{"iothub-connection-device-id", device}};
  return e;
}

// Appends the events in order and waits until the last is committed.
void AppendAll(EventLog& log, const std::string& device, int from, int to) {
  auto done = std::make_shared<std::promise<void>>();
  for (int i = from; i < to; ++i) {
    log.Append(DeviceEvent(device, "m" + std::to_string(i)), [done, last = i == to - 1](const Status& s) {
      REQUIRE(s.ok());
      if (last) done->set_value();
    });
  }
  REQUIRE(done->get_future().wait_for(10s) == std::future_status::ready);
}

std::vector<std::string> Bodies(const std::vector<EventPtr>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e->body);
  return out;
}

std::vector<std::string> Expected(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back("m" + std::to_string(i));
  return out;
}

// A log on a database file, so readers use connections of their own, with a tail of only 8 events.
struct FileLog {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("iothub-reader-" + std::to_string(::getpid()) + ".db")).string();
  std::unique_ptr<storage::SqliteDatabase> db;
  std::unique_ptr<storage::SqliteEventStore> store;
  std::unique_ptr<EventLog> log;
  FileLog() {
    std::filesystem::remove(path);
    db = std::make_unique<storage::SqliteDatabase>(path);
    store = std::make_unique<storage::SqliteEventStore>(*db);
    EventLog::Options options{1, std::chrono::hours(1), 4096, {}};
    options.tail = {8, 1 << 20};
    log = std::make_unique<EventLog>(*store, options);
  }
  ~FileLog() {
    log.reset();
    store.reset();
    db.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  }
};

}  // namespace

TEST_CASE("EventReader: from earliest it reads the store, then memory, every event once and in order") {
  FileLog f;
  AppendAll(*f.log, "d", 0, 50);  // 42 are only in the store now, 8 in memory too
  EventReader reader(*f.log, {ResolvePosition(*f.log, 0, EventPosition::Earliest())});
  std::vector<EventPtr> all;
  for (int round = 0; round < 100 && all.size() < 50; ++round) {
    auto events = reader.Read(7, 0ms);
    all.insert(all.end(), events.begin(), events.end());
  }
  CHECK(Bodies(all) == Expected(0, 50));
  CHECK(reader.next() == std::vector<int64_t>{50});
  CHECK(reader.Read(7, 0ms).empty());
}

TEST_CASE("EventReader: a live reader is woken by the next commit") {
  FileLog f;
  AppendAll(*f.log, "d", 0, 3);
  EventReader reader(*f.log, {ResolvePosition(*f.log, 0, EventPosition::Latest())});
  CHECK(reader.Read(10, 0ms).empty());  // latest: only what comes next
  auto writer = std::async(std::launch::async, [&] { AppendAll(*f.log, "d", 3, 4); });
  std::vector<EventPtr> got;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (got.empty() && std::chrono::steady_clock::now() < deadline) got = reader.Read(10, 1000ms);
  writer.get();
  CHECK(Bodies(got) == Expected(3, 4));
}

TEST_CASE("EventReader: start positions by sequence number, offset and enqueued time") {
  FileLog f;
  AppendAll(*f.log, "d", 0, 20);  // bodies "m0".."m9" are 2 bytes, "m10".. 3: offsets 0, 3, 6, ..., 30, 34, ...
  auto first = [&](EventPosition position) {
    EventReader reader(*f.log, {ResolvePosition(*f.log, 0, position)});
    auto events = reader.Read(1, 0ms);
    return events.empty() ? std::string("none") : events.front()->body;
  };
  CHECK(first(EventPosition::SequenceNumber(5)) == "m5");
  CHECK(first(EventPosition::SequenceNumber(5, false)) == "m6");
  CHECK(first(EventPosition::Offset(0)) == "m0");
  CHECK(first(EventPosition::Offset(0, false)) == "m1");
  CHECK(first(EventPosition::Offset(4)) == "m2");   // between m1 (3) and m2 (6)
  CHECK(first(EventPosition::Offset(30)) == "m10");
  CHECK(first(EventPosition::Offset(30, false)) == "m11");
  CHECK(first(EventPosition::Offset(1'000'000)) == "none");  // past the end: what comes next
  CHECK(first(EventPosition::Earliest()) == "m0");
  CHECK(first(EventPosition::Latest()) == "none");

  // Enqueued times: a later batch has a later time than everything before it.
  const auto events = f.log->ReadPartition(0, 0, 100);
  REQUIRE(events.size() == 20);
  const TimePoint last_time = events.back()->enqueued_time;
  CHECK(first(EventPosition::EnqueuedTime(events.front()->enqueued_time)) == "m0");
  CHECK(first(EventPosition::EnqueuedTime(last_time, false)) == "none");
  std::this_thread::sleep_for(2ms);  // the clock, not an event: the next batch is enqueued later
  AppendAll(*f.log, "d", 20, 21);
  CHECK(first(EventPosition::EnqueuedTime(last_time, false)) == "m20");
}

TEST_CASE("EventReader: only the partitions it was given, each in turn") {
  storage::SqliteDatabase db(":memory:");
  storage::SqliteEventStore store(db);
  EventLog log(store, {4, std::chrono::hours(1), 4096, {}});
  const int p = log.PartitionOf("dev1");
  AppendAll(log, "dev1", 0, 5);
  std::string other = "dev2";
  for (int i = 0; log.PartitionOf(other) == p; ++i) other = "dev" + std::to_string(3 + i);
  AppendAll(log, other, 0, 5);
  EventReader mine(log, std::vector<int64_t>(4, 0), {p});
  auto events = mine.Read(100, 0ms);
  CHECK(Bodies(events) == Expected(0, 5));
  for (const auto& e : events) CHECK(*e->Annotation("iothub-connection-device-id") == "dev1");
  EventReader all(log, std::vector<int64_t>(4, 0));
  CHECK(all.Read(100, 0ms).size() == 10);
}

TEST_CASE("EventReader: with pacing, batches go out an interval apart, but a full batch does not wait") {
  FileLog f;
  AppendAll(*f.log, "d", 0, 10);
  EventReader reader(*f.log, {0});
  reader.set_pacing(std::chrono::milliseconds(300));
  CHECK(reader.Read(4, 0ms).size() == 4);  // full batches: the rest follows at once
  CHECK(reader.Read(4, 0ms).size() == 4);
  const auto handed_out = std::chrono::steady_clock::now();  // no later than the reader notes it
  auto last = reader.Read(4, 0ms);  // the last two, not a full batch
  CHECK(Bodies(last) == Expected(8, 10));
  AppendAll(*f.log, "d", 10, 11);
  auto next = reader.Read(4, 1000ms);
  CHECK(std::chrono::steady_clock::now() - handed_out >= 300ms);  // held until due
  CHECK(Bodies(next) == Expected(10, 11));
}

TEST_CASE("EventReader: with pacing, the first event after a quiet spell is not held") {
  FileLog f;
  EventReader reader(*f.log, {0});
  reader.set_pacing(std::chrono::seconds(30));
  AppendAll(*f.log, "d", 0, 1);
  const auto start = std::chrono::steady_clock::now();
  CHECK(Bodies(reader.Read(4, 1000ms)) == Expected(0, 1));
  CHECK(std::chrono::steady_clock::now() - start < 10s);  // not the 30 s interval
}

TEST_CASE("EventReader: TryRead never waits, and pacing holds back only a batch after one that was not full") {
  storage::SqliteDatabase db(":memory:");
  storage::SqliteEventStore store(db);
  EventLog log(store, {1, std::chrono::hours(1), 4096, {}});
  EventReader reader(log, {0});
  reader.set_pacing(std::chrono::seconds(30));  // longer than the test: a held batch stays held
  CHECK(reader.TryRead(4).empty());  // nothing committed
  CHECK(!reader.paced_until());      // and not because of pacing
  AppendAll(log, "d", 0, 10);
  CHECK(Bodies(reader.TryRead(4)) == Expected(0, 4));  // full batches: the rest follows at once
  CHECK(Bodies(reader.TryRead(4)) == Expected(4, 8));
  CHECK(!reader.paced_until());
  const auto before = std::chrono::steady_clock::now();
  CHECK(Bodies(reader.TryRead(4)) == Expected(8, 10));  // not full
  const auto after = std::chrono::steady_clock::now();
  AppendAll(log, "d", 10, 11);
  CHECK(reader.TryRead(4).empty());  // held back
  REQUIRE(reader.paced_until());
  CHECK(*reader.paced_until() >= before + 30s);
  CHECK(*reader.paced_until() <= after + 30s);
  CHECK(reader.next() == std::vector<int64_t>{10});  // the cursor stayed: m10 is still to come
}

TEST_CASE("EventReader: a batch TryRead held back goes out once the pacing interval has passed") {
  storage::SqliteDatabase db(":memory:");
  storage::SqliteEventStore store(db);
  EventLog log(store, {1, std::chrono::hours(1), 4096, {}});
  EventReader reader(log, {0});
  reader.set_pacing(std::chrono::milliseconds(300));
  AppendAll(log, "d", 0, 1);
  CHECK(Bodies(reader.TryRead(4)) == Expected(0, 1));  // after a quiet spell: at once
  AppendAll(log, "d", 1, 2);
  CHECK(reader.TryRead(4).empty());
  const auto due = reader.paced_until();
  REQUIRE(due);
  std::vector<EventPtr> got;
  CHECK(testing::WaitUntil([&] { return !(got = reader.TryRead(4)).empty(); }, 10s, 1ms));
  CHECK(std::chrono::steady_clock::now() >= *due);
  CHECK(Bodies(got) == Expected(1, 2));
  REQUIRE(reader.paced_until());  // a new interval, from this batch
  CHECK(*reader.paced_until() >= *due + 300ms);
}

}  // namespace iothub
