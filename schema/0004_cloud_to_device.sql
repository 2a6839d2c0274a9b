-- Cloud-to-device messages waiting for their device (spec §2.6): at most 50 per
-- device, each until the device acknowledges it (PUBACK) or it expires.
CREATE TABLE c2d_messages (
  sequence          INTEGER PRIMARY KEY AUTOINCREMENT,  -- delivery order; never reused
  device_id         TEXT NOT NULL,
  message_id        TEXT,
  correlation_id    TEXT,
  user_id           TEXT,
  content_type      TEXT,
  content_encoding  TEXT,
  ack               TEXT NOT NULL DEFAULT 'none',  -- none, positive, negative, full
  properties        TEXT NOT NULL,                 -- JSON array of [name, value]
  body              BLOB NOT NULL,
  enqueued_us       INTEGER NOT NULL,
  expiry_us         INTEGER NOT NULL,
  delivery_count    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX c2d_by_device ON c2d_messages (device_id, sequence);
