#include "storage/sqlite_subscription_store.h"

namespace iothub::storage {

Subscriptions SqliteSubscriptionStore::Load(const std::string& client_id) {
  auto lock = db_.Lock();
  Statement s(db_, "SELECT feed FROM device_subscriptions WHERE client_id = ?");
  s.Bind(1, client_id);
  Subscriptions out;
  while (s.Step()) {
    if (auto feed = ParseFeed(s.Text(0))) out.insert(*feed);
  }
  return out;
}

void SqliteSubscriptionStore::Save(const std::string& client_id, const Subscriptions& subscriptions) {
  db_.InTransaction([&] {
    Statement clear(db_, "DELETE FROM device_subscriptions WHERE client_id = ?");
    clear.Bind(1, client_id).Run();
    for (Feed feed : subscriptions) {
      // The qos column (schema 3) is no longer read: a session keeps feeds, and each
      // protocol decides how to deliver them. It holds 1, what MQTT grants at most.
      Statement insert(db_, "INSERT INTO device_subscriptions (client_id, feed, qos) VALUES (?, ?, 1)");
      insert.Bind(1, client_id).Bind(2, std::string_view(ToString(feed))).Run();
    }
  });
}

}  // namespace iothub::storage
