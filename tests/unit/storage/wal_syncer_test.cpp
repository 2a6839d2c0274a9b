// Group durability: which callbacks share a sync, what a failed sync tells them, and the
// real thing on a database file.
#include "storage/wal_syncer.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <future>
#include <vector>

#include "storage/sqlite_database.h"

namespace iothub::storage {
namespace {

using namespace std::chrono_literals;

// A sync that can be held: the first one waits for `release`.
struct HeldSync {
  std::atomic<int> started{0};
  std::atomic<int> finished{0};
  std::promise<void> first_started;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<bool> result{true};

  WalSyncer::Sync Fn() {
    return [this] {
      const bool r = result;  // as it was when the sync began
      if (++started == 1) {
        first_started.set_value();
        // Bounded: a test that never releases fails on its own checks, not by hanging.
        released.wait_for(10s);
      }
      ++finished;
      return r;
    };
  }
};

}  // namespace

TEST_CASE("WalSyncer: what is registered while a sync runs waits for the next one, and all of it shares that one") {
  HeldSync held;
  std::vector<int> seen(11, -1);  // how many syncs had finished when each callback ran
  {
    WalSyncer syncer(held.Fn());
    syncer.After([&](bool durable) {
      CHECK(durable);
      seen[0] = held.finished;
    });
    REQUIRE(held.first_started.get_future().wait_for(10s) == std::future_status::ready);
    for (int i = 1; i <= 10; ++i) {
      syncer.After([&, i](bool durable) {
        CHECK(durable);
        seen[i] = held.finished;
      });
    }
    held.release.set_value();
    syncer.Drain();
    // The first was covered by the first sync; the ten came during it, so it could not cover
    // them (their commits may have come after it began): one more sync covered all ten.
    CHECK(seen[0] == 1);
    for (int i = 1; i <= 10; ++i) CHECK(seen[i] == 2);
    CHECK(held.started == 2);
  }
}

TEST_CASE("WalSyncer: a failed sync tells its callbacks, and stopping runs what still waits") {
  HeldSync held;
  held.result = false;
  std::atomic<int> failed{0};
  std::atomic<int> ran{0};
  {
    WalSyncer syncer(held.Fn());
    syncer.After([&](bool durable) {
      if (!durable) ++failed;
    });
    REQUIRE(held.first_started.get_future().wait_for(10s) == std::future_status::ready);
    held.result = true;
    for (int i = 0; i < 5; ++i) syncer.After([&](bool durable) { ran += durable ? 1 : 0; });
    held.release.set_value();
  }  // the destructor syncs and runs the five before it returns
  CHECK(failed == 1);
  CHECK(ran == 5);
}

TEST_CASE("SqliteDatabase: WhenDurable after light commits on a file, and at once in memory") {
  const auto path = (std::filesystem::temp_directory_path() / ("durable-" + std::to_string(::getpid()) + ".db")).string();
  {
    SqliteDatabase db(path);
    db.Exec("CREATE TABLE t (v INTEGER)");
    std::atomic<int> durable{0};
    for (int i = 0; i < 50; ++i) {
      db.InLightTransaction([&] { db.Exec("INSERT INTO t VALUES (" + std::to_string(i) + ")"); });
      db.WhenDurable([&](bool ok) { durable += ok ? 1 : 0; });
    }
    db.DrainDurable();
    CHECK(durable == 50);
  }
  {
    SqliteDatabase db(path);
    Statement count(db.handle(), "SELECT COUNT(*) FROM t");
    REQUIRE(count.Step());
    CHECK(count.Int(0) == 50);
  }
  SqliteDatabase memory(":memory:");
  bool ran = false;
  memory.WhenDurable([&](bool ok) { ran = ok; });
  CHECK(ran);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}

TEST_CASE("SqliteDatabase: a cached statement is given back reset, and a nested use of the same text gets its own") {
  SqliteDatabase db(":memory:");
  db.Exec("CREATE TABLE t (v INTEGER)");
  db.Exec("INSERT INTO t VALUES (1), (2), (3)");
  const char* sql = "SELECT v FROM t WHERE v >= ? ORDER BY v";
  {
    Statement outer(db, sql);
    outer.Bind(1, int64_t{2});
    REQUIRE(outer.Step());
    CHECK(outer.Int(0) == 2);
    Statement inner(db, sql);  // the outer one is in use: a second statement
    inner.Bind(1, int64_t{1});
    REQUIRE(inner.Step());
    CHECK(inner.Int(0) == 1);
    REQUIRE(outer.Step());
    CHECK(outer.Int(0) == 3);
  }  // both given back mid-read: reset, so the table is not held
  db.Exec("INSERT INTO t VALUES (4)");
  Statement again(db, sql);
  again.Bind(1, int64_t{4});
  REQUIRE(again.Step());
  CHECK(again.Int(0) == 4);
  CHECK_FALSE(again.Step());
}

}  // namespace iothub::storage
