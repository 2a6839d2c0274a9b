-- The identity registry: one row per device identity.
CREATE TABLE devices (
  seq                            INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order, for listing
  device_id                      TEXT NOT NULL UNIQUE,               -- case-sensitive, as IoT Hub
  generation_id                  TEXT NOT NULL,
  version                        INTEGER NOT NULL,                   -- the etag is derived from it
  status                         TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
  status_reason                  TEXT,
  status_updated_time_us         INTEGER NOT NULL DEFAULT 0,         -- microseconds since the Unix epoch; 0 = never
  auth_type                      TEXT NOT NULL,
  primary_key                    TEXT,
  secondary_key                  TEXT,
  primary_thumbprint             TEXT,
  secondary_thumbprint           TEXT,
  iot_edge                       INTEGER NOT NULL DEFAULT 0,
  device_scope                   TEXT,
  parent_scopes                  TEXT NOT NULL DEFAULT '',           -- newline-separated
  connected                      INTEGER NOT NULL DEFAULT 0,
  connection_state_updated_us    INTEGER NOT NULL DEFAULT 0,
  last_activity_us               INTEGER NOT NULL DEFAULT 0
);
