-- Cloud-to-device leases and feedback (spec §2.6, §7). A message a device has
-- received is locked (Invisible) under a lock token until it is settled or the
-- lock runs out; how each message ends is recorded for the back end when its
-- `ack` asks for it, in one hub-wide feedback queue.
ALTER TABLE c2d_messages ADD COLUMN device_generation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE c2d_messages ADD COLUMN lock_token TEXT;                        -- NULL while Enqueued
ALTER TABLE c2d_messages ADD COLUMN lock_expiry_us INTEGER NOT NULL DEFAULT 0;
-- Messages queued before this version were for the device registered now.
UPDATE c2d_messages SET device_generation_id =
  COALESCE((SELECT generation_id FROM devices WHERE devices.device_id = c2d_messages.device_id), '');
CREATE INDEX c2d_by_expiry ON c2d_messages (expiry_us);

CREATE TABLE c2d_feedback (
  sequence              INTEGER PRIMARY KEY AUTOINCREMENT,  -- queue order; never reused
  original_message_id   TEXT NOT NULL,
  device_id             TEXT NOT NULL,
  device_generation_id  TEXT NOT NULL,
  enqueued_us           INTEGER NOT NULL,                   -- when the message's outcome happened
  status_code           TEXT NOT NULL,                      -- Success, Expired, DeliveryCountExceeded, Rejected, Purged
  description           TEXT NOT NULL,
  lock_token            TEXT,                               -- NULL while not received
  lock_expiry_us        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX c2d_feedback_by_lock ON c2d_feedback (lock_token);
