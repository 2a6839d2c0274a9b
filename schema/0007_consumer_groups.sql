-- Consumer groups of the Event Hub-compatible endpoint created through the emulator's
-- API (PUT /emulator/consumerGroups/{name}, `iothub consumer-group create`), so that they
-- outlive a restart. $Default and the groups the configuration declares are not stored.
CREATE TABLE consumer_groups (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT,   -- creation order, for listing
  name  TEXT NOT NULL UNIQUE COLLATE NOCASE  -- as spelt when created; unique in any case (names are ASCII)
);
