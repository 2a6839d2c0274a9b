#include "core/consumer_groups.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "storage/sqlite_consumer_group_store.h"
#include "storage/sqlite_database.h"

namespace iothub {
namespace {

std::vector<std::pair<std::string, std::string>> Listed(const ConsumerGroups& groups) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const ConsumerGroup& g : groups.List()) out.emplace_back(g.name, ConsumerGroupSourceName(g.source));
  return out;
}

}  // namespace

TEST_CASE("Consumer group names: Event Hubs' rules, with a message that says what is wrong") {
  const std::vector<std::string> valid = {"a",   "Z",        "7",        "ops",  "my-group_1.v2",
                                          "A.B", "$Default", "$default", std::string(50, 'x')};
  for (const std::string& ok : valid) {
    CAPTURE(ok);
    CHECK(ValidateConsumerGroupName(ok).ok());
  }
  struct Bad {
    std::string name;
    std::string says;
  };
  const Bad bad[] = {
      {"", "must not be empty"},
      {std::string(51, 'x'), "longer than 50"},
      {"with space", "only letters, digits"},
      {"slash/group", "only letters, digits"},
      {"caf\xc3\xa9", "only letters, digits"},
      {"$Other", "$Default is the only name"},
      {"$Default2", "$Default is the only name"},
      {"-ops", "start and end with a letter or digit"},
      {"ops.", "start and end with a letter or digit"},
      {"_", "start and end with a letter or digit"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.name);
    Status s = ValidateConsumerGroupName(b.name);
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == ErrorCode::kArgumentInvalid);
    CHECK(s.message().find(b.says) != std::string::npos);
  }
}

TEST_CASE("Consumer groups: $Default always exists, lookups ignore case and the spelling given is kept") {
  storage::SqliteDatabase db(":memory:");
  storage::SqliteConsumerGroupStore store(db);
  ConsumerGroups groups(store, {"Analytics", "ops", "OPS", "$default"});
  CHECK(groups.Exists("$Default"));
  CHECK(groups.Exists("$DEFAULT"));
  CHECK(groups.Exists("analytics"));
  CHECK(groups.Exists("Ops"));
  CHECK_FALSE(groups.Exists("other"));
  CHECK_FALSE(groups.Exists("ops "));
  // A name given twice, or $Default given, is one group; configured groups are not stored.
  CHECK(Listed(groups) == std::vector<std::pair<std::string, std::string>>{
                              {"$Default", "builtin"}, {"Analytics", "config"}, {"ops", "config"}});
  CHECK(store.List().empty());

  auto created = groups.Create("Audit.Team");
  REQUIRE(created.ok());
  CHECK(created->name == "Audit.Team");
  CHECK(created->source == ConsumerGroupSource::kApi);
  CHECK(groups.Exists("audit.team"));
  CHECK(Listed(groups).back() == std::pair<std::string, std::string>{"Audit.Team", "api"});
}

TEST_CASE("Consumer groups: create refuses bad names and existing groups, delete only what the API created") {
  storage::SqliteDatabase db(":memory:");
  storage::SqliteConsumerGroupStore store(db);
  ConsumerGroups groups(store, {"configured"});

  CHECK(groups.Create("bad name").status().code() == ErrorCode::kArgumentInvalid);
  CHECK(groups.Create("$Other").status().code() == ErrorCode::kArgumentInvalid);
  REQUIRE(groups.Create("ops").ok());
  for (const char* existing : {"ops", "OPS", "$Default", "$default", "Configured"}) {
    CAPTURE(existing);
    Status s = groups.Create(existing).status();
    REQUIRE_FALSE(s.ok());
    CHECK(ErrorCodeNumber(s.code()) / 1000 == 409);
    CHECK(s.message().find("already exists") != std::string::npos);
  }
  CHECK(store.List() == std::vector<std::string>{"ops"});

  CHECK(groups.Delete("$Default").code() == ErrorCode::kArgumentInvalid);
  CHECK(groups.Delete("$default").message().find("cannot be deleted") != std::string::npos);
  CHECK(groups.Delete("CONFIGURED").code() == ErrorCode::kArgumentInvalid);
  CHECK(groups.Delete("configured").message().find("configuration") != std::string::npos);
  CHECK(groups.Delete("nobody").code() == ErrorCode::kResourceNotFound);
  CHECK(groups.Exists("$Default"));
  CHECK(groups.Exists("configured"));

  CHECK(groups.Delete("Ops").ok());  // any case
  CHECK_FALSE(groups.Exists("ops"));
  CHECK(store.List().empty());
  CHECK(groups.Delete("ops").code() == ErrorCode::kResourceNotFound);
  CHECK(groups.Create("ops").ok());  // and it can be made again
}

TEST_CASE("Consumer groups: created groups come back from the store, and one both configured and stored is one group") {
  storage::SqliteDatabase db(":memory:");
  storage::SqliteConsumerGroupStore store(db);
  {
    ConsumerGroups first(store, {});
    REQUIRE(first.Create("first").ok());
    REQUIRE(first.Create("Shared").ok());
    REQUIRE(first.Create("third").ok());
  }
  ConsumerGroups again(store, {"shared"});
  CHECK(Listed(again) == std::vector<std::pair<std::string, std::string>>{
                             {"$Default", "builtin"}, {"shared", "config"}, {"first", "api"}, {"third", "api"}});
  CHECK(again.Delete("Shared").code() == ErrorCode::kArgumentInvalid);
  // Once the configuration stops declaring it, the stored group is still there, as created.
  ConsumerGroups later(store, {});
  CHECK(Listed(later) == std::vector<std::pair<std::string, std::string>>{
                             {"$Default", "builtin"}, {"first", "api"}, {"Shared", "api"}, {"third", "api"}});
}

TEST_CASE("Consumer groups: an invalid configured name is refused at construction") {
  storage::SqliteDatabase db(":memory:");
  storage::SqliteConsumerGroupStore store(db);
  CHECK_THROWS_AS(ConsumerGroups(store, {"ok", "not ok"}), std::invalid_argument);
}

}  // namespace iothub
