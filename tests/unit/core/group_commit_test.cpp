// Group commit over the real SQLite store: which writes share a commit, and what a
// write that throws or a commit that fails does to the others.
#include "core/group_commit.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <chrono>
#include <future>
#include <stdexcept>
#include <thread>
#include <vector>

#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"

namespace iothub {
namespace {

using namespace std::chrono_literals;

struct Fixture {
  storage::SqliteDatabase db{":memory:"};
  storage::SqliteDeviceStore store{db};
  GroupCommit writes{store};
  std::atomic<int> commits{0};
  std::atomic<bool> refuse_commits{false};

  Fixture() {
    // Counts the commits that reach the database; refusing one turns it into a rollback.
    sqlite3_commit_hook(
        db.handle(),
        [](void* self) -> int {
          auto* f = static_cast<Fixture*>(self);
          if (f->refuse_commits) return 1;
          ++f->commits;
          return 0;
        },
        this);
  }

  static Device NewDevice(const std::string& id) {
    Device d;
    d.device_id = id;
    d.generation_id = "1";
    d.version = 1;
    return d;
  }

  // A write that inserts device `id` and counts its answer in `answered` or `failures`.
  void Insert(const std::string& id, std::atomic<int>& answered, std::vector<Status>* failures = nullptr,
              bool then_throw = false) {
    writes.Run(
        [this, id, &answered, then_throw]() -> std::function<void()> {
          store.Insert(NewDevice(id));
          if (then_throw) throw std::runtime_error("disk on fire");
          return [&answered] { ++answered; };
        },
        [failures](Status s) {
          if (failures) failures->push_back(std::move(s));
        });
  }

  // Holds the committing thread inside a write (the database locked) until the
  // returned promise is set; returns once that write runs.
  std::promise<void> HoldCommitter(std::thread& committer, std::atomic<int>& answered) {
    std::promise<void> release;
    std::promise<void> started;
    committer = std::thread([this, &answered, released = release.get_future().share(), &started]() {
      writes.Run(
          [this, &answered, released, &started]() -> std::function<void()> {
            store.Insert(NewDevice("first"));
            started.set_value();
            released.wait_for(10s);  // bounded: a failing test does not hang
            return [&answered] { ++answered; };
          },
          [](Status) {});
    });
    REQUIRE(started.get_future().wait_for(10s) == std::future_status::ready);
    return release;
  }
};

}  // namespace

TEST_CASE_FIXTURE(Fixture, "GroupCommit: writes that queue while one commits land together, in one commit, and "
                           "are answered after it") {
  std::atomic<int> answered{0};
  std::thread committer;
  std::promise<void> release = HoldCommitter(committer, answered);

  // Each Run returns at once: the writes wait in the queue, not on a thread.
  auto queued = std::async(std::launch::async, [&] {
    for (int i = 0; i < 10; ++i) Insert("queued" + std::to_string(i), answered);
  });
  const bool returned = queued.wait_for(10s) == std::future_status::ready;
  CHECK(returned);
  CHECK(answered == 0);  // nothing is answered before its commit
  CHECK(commits == 0);
  release.set_value();
  committer.join();
  queued.wait();

  CHECK(answered == 11);
  CHECK(commits == 2);  // the first write alone, then the ten together
  CHECK(store.Counts().total == 11);
}

TEST_CASE_FIXTURE(Fixture, "GroupCommit: a write that throws is undone alone, and the others of its batch land") {
  std::atomic<int> answered{0};
  std::vector<Status> failures;
  std::thread committer;
  std::promise<void> release = HoldCommitter(committer, answered);
  Insert("before", answered, &failures);
  Insert("thrower", answered, &failures, /*then_throw=*/true);
  Insert("after", answered, &failures);
  release.set_value();
  committer.join();

  CHECK(answered == 3);
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].code() == ErrorCode::kServerError);
  CHECK(failures[0].message().find("disk on fire") != std::string::npos);
  CHECK(store.Find("before"));
  CHECK(store.Find("after"));
  CHECK_FALSE(store.Find("thrower"));  // its insert was undone with it
  CHECK(commits == 2);
}

TEST_CASE_FIXTURE(Fixture, "GroupCommit: a commit that fails answers every write of its batch with the failure, "
                           "lands none of them, and the next write commits") {
  std::atomic<int> answered{0};
  std::vector<Status> failures;
  refuse_commits = true;
  Insert("a", answered, &failures);
  CHECK(answered == 0);
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].code() == ErrorCode::kServerError);
  CHECK_FALSE(store.Find("a"));

  refuse_commits = false;
  Insert("b", answered, &failures);
  CHECK(answered == 1);
  CHECK(failures.size() == 1);
  CHECK(store.Find("b"));
}

TEST_CASE("SqliteDatabase: a nested transaction that throws is undone alone, and the outer one still commits") {
  storage::SqliteDatabase db(":memory:");
  db.Exec("CREATE TABLE t (v INTEGER)");
  db.InTransaction([&] {
    db.Exec("INSERT INTO t VALUES (1)");
    CHECK_THROWS(db.InTransaction([&] {
      db.Exec("INSERT INTO t VALUES (2)");
      throw std::runtime_error("undo me");
    }));
    db.InTransaction([&] { db.Exec("INSERT INTO t VALUES (3)"); });
  });
  storage::Statement s(db.handle(), "SELECT group_concat(v) FROM (SELECT v FROM t ORDER BY v)");
  REQUIRE(s.Step());
  CHECK(s.Text(0) == "1,3");
  CHECK(sqlite3_get_autocommit(db.handle()) != 0);  // nothing left open
}

// PRAGMA synchronous: 2 is FULL, 1 NORMAL.
int64_t Synchronous(storage::SqliteDatabase& db) {
  storage::Statement s(db.handle(), "PRAGMA synchronous");
  REQUIRE(s.Step());
  return s.Int(0);
}

TEST_CASE("SqliteDatabase: a light transaction's writes land and stay after a reopen, and every later commit is "
          "durable again (FULL), also after one that threw") {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("light-" + std::to_string(::getpid()) + ".db")).string();
  std::filesystem::remove(path);
  {
    storage::SqliteDatabase db(path);
    db.Exec("CREATE TABLE t (v INTEGER)");
    CHECK(Synchronous(db) == 2);
    int64_t inside = 0;
    db.InLightTransaction([&] {
      db.Exec("INSERT INTO t VALUES (1)");
      inside = Synchronous(db);
    });
    CHECK(inside == 1);  // that commit skipped its fsync...
    CHECK(Synchronous(db) == 2);  // ...and the next ones do not
    CHECK_THROWS(db.InLightTransaction([&] {
      db.Exec("INSERT INTO t VALUES (2)");
      throw std::runtime_error("undo me");
    }));
    CHECK(Synchronous(db) == 2);
    db.InTransaction([&] { db.InLightTransaction([&] { db.Exec("INSERT INTO t VALUES (3)"); }); });
  }
  storage::SqliteDatabase again(path);
  storage::Statement s(again.handle(), "SELECT group_concat(v) FROM (SELECT v FROM t ORDER BY v)");
  REQUIRE(s.Step());
  CHECK(s.Text(0) == "1,3");
  std::filesystem::remove(path);
}

}  // namespace iothub
