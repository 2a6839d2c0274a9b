-- The event log of device-to-cloud messages: partitions, each with its own
-- ever-increasing sequence numbers and byte offsets.
CREATE TABLE event_partitions (
  partition_id          INTEGER PRIMARY KEY,
  next_sequence_number  INTEGER NOT NULL,   -- survives retention emptying the partition
  next_offset           INTEGER NOT NULL
);

CREATE TABLE events (
  id                      INTEGER PRIMARY KEY,
  partition_id            INTEGER NOT NULL,
  sequence_number         INTEGER NOT NULL,
  byte_offset             INTEGER NOT NULL,
  enqueued_time_us        INTEGER NOT NULL,  -- microseconds since the Unix epoch
  device_id               TEXT NOT NULL,
  body                    BLOB NOT NULL,
  properties              TEXT NOT NULL,     -- JSON object: messageId, correlationId, userId, contentType, ...
  application_properties  TEXT NOT NULL,     -- JSON array of [name, value]
  annotations             TEXT NOT NULL,     -- JSON array of [name, value]
  UNIQUE (partition_id, sequence_number)
);
CREATE INDEX events_by_enqueued_time ON events (enqueued_time_us);
