#include "storage/migrations.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "storage/sqlite_cloud_to_device_store.h"
#include "storage/sqlite_consumer_group_store.h"
#include "storage/sqlite_database.h"
#include "storage/sqlite_device_store.h"

namespace iothub::storage {
namespace {

std::filesystem::path TempDb(const char* name) {
  auto dir = std::filesystem::temp_directory_path() / "iothub-emulator-unit";
  std::filesystem::create_directories(dir);
  auto path = dir / (std::string(name) + "-" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  return path;
}

std::filesystem::path FixturePath(int version) {
  return std::filesystem::path(FIXTURES_DIR) / "schema" / ("v" + std::to_string(version) + ".sql");
}

int UserVersion(sqlite3* db) {
  Statement s(db, "PRAGMA user_version");
  s.Step();
  return static_cast<int>(s.Int(0));
}

}  // namespace

TEST_CASE("Migrations: a new database is brought to the newest embedded version") {
  SqliteDatabase db(":memory:");
  REQUIRE_FALSE(kSchemaMigrations.empty());
  CHECK(db.SchemaVersion() == kSchemaMigrations.back().version);
  // Numbered in order, without gaps.
  for (size_t i = 1; i < kSchemaMigrations.size(); ++i) {
    CHECK(kSchemaMigrations[i].version == kSchemaMigrations[i - 1].version + 1);
  }
  CHECK(kSchemaMigrations.front().version == 1);
}

TEST_CASE("Migrations: reopening applies nothing twice and keeps the data") {
  auto path = TempDb("reopen");
  {
    SqliteDatabase db(path.string());
    db.Exec("INSERT INTO devices (device_id, generation_id, version, status, auth_type) "
            "VALUES ('d', '1', 1, 'enabled', 'sas')");
  }
  SqliteDatabase db(path.string());
  auto lock = db.Lock();
  Statement s(db.handle(), "SELECT COUNT(*) FROM devices");
  s.Step();
  CHECK(s.Int(0) == 1);
}

TEST_CASE("Migrations: a database from a newer emulator is refused with a clear message") {
  auto path = TempDb("newer");
  {
    SqliteDatabase db(path.string());
    db.Exec("PRAGMA user_version = 999");
  }
  try {
    SqliteDatabase db(path.string());
    FAIL("opened a newer database");
  } catch (const StorageError& e) {
    CHECK(std::string(e.what()).find("schema version 999") != std::string::npos);
    CHECK(std::string(e.what()).find("newer iothub-emulator") != std::string::npos);
  }
}

TEST_CASE("Migrations: a failing migration leaves the database at the last good version") {
  sqlite3* db = nullptr;
  sqlite3_open(":memory:", &db);
  std::vector<Migration> migrations = {
      {1, "0001_ok.sql", "CREATE TABLE a (x INTEGER);"},
      {2, "0002_broken.sql", "CREATE TABLE b (y INTEGER); THIS IS NOT SQL;"},
  };
  CHECK_THROWS_AS(ApplyMigrations(db, migrations, "test"), StorageError);
  CHECK(UserVersion(db) == 1);
  {
    Statement s(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'");
    s.Step();
    CHECK(s.Int(0) == 0);  // the broken migration's first statement was rolled back
  }  // finalized before the close: sqlite3_close() leaves a connection with live statements open
  sqlite3_close(db);
}

}  // namespace iothub::storage

namespace iothub::storage {

TEST_CASE("Migrations: every schema version's fixture database upgrades with its data intact") {
  // tests/fixtures/schema/vN.sql is a database as version N left it; not every version has one.
  for (int version = 1; version <= kSchemaMigrations.back().version; ++version) {
    if (!std::filesystem::exists(FixturePath(version))) continue;
    CAPTURE(version);
    auto path = TempDb(("fixture-v" + std::to_string(version)).c_str());
    {
      sqlite3* raw = nullptr;
      REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
      std::ifstream in(FixturePath(version));
      std::string sql((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      REQUIRE(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
      sqlite3_close(raw);
    }
    SqliteDatabase db(path.string());
    CHECK(db.SchemaVersion() == kSchemaMigrations.back().version);
    SqliteDeviceStore store(db);
    auto sas = store.Find("fixture-sas");
    REQUIRE(sas);
    CHECK(sas->status == DeviceStatus::kDisabled);
    CHECK(sas->status_reason == "kept");
    CHECK(sas->version == 3);
    CHECK(sas->primary_key == "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=");
    auto x509 = store.Find("fixture-x509");
    REQUIRE(x509);
    CHECK(x509->auth_type == AuthType::kSelfSigned);
    CHECK(x509->iot_edge);
    CHECK(x509->parent_scopes == std::vector<std::string>{"scope-a", "scope-b"});
    CHECK(store.List(10).front().device_id == "fixture-sas");
    if (version >= 5) {
      // Its cloud-to-device message, Enqueued again, for the device registered now (0006).
      SqliteCloudToDeviceStore c2d(db);
      auto messages = c2d.Messages("fixture-sas");
      REQUIRE(messages.size() == 1);
      const CloudToDeviceMessage& m = messages[0];
      CHECK(m.properties.message_id == "fixture-m1");
      CHECK(m.properties.correlation_id == "fixture-c1");
      CHECK(m.properties.content_type == "application/json");
      CHECK(m.ack == "full");
      CHECK(m.body == R"({"n":1})");
      CHECK(m.application_properties == Properties{{"k", "v"}});
      CHECK(m.delivery_count == 1);
      CHECK(m.lock_token.empty());
      CHECK(m.device_generation_id == "638000000000000001");
    }
    // Consumer groups made through the API (0007), in creation order, as spelt; older databases have none.
    SqliteConsumerGroupStore groups(db);
    const std::vector<std::string> stored =
        version >= 7 ? std::vector<std::string>{"Fixture-Group", "second.group"} : std::vector<std::string>{};
    CHECK(groups.List() == stored);
    if (version >= 7) CHECK_FALSE(groups.Insert("FIXTURE-group"));  // still unique in any case
    CHECK(groups.Insert("after-upgrade"));
    CHECK(groups.List().back() == "after-upgrade");
  }
  CHECK(std::filesystem::exists(FixturePath(1)));
  CHECK(std::filesystem::exists(FixturePath(7)));
}

}  // namespace iothub::storage
