-- Device twins: tags, desired and reported properties with their metadata and versions.
CREATE TABLE twins (
  device_id           TEXT PRIMARY KEY,
  tags                TEXT NOT NULL DEFAULT '{}',  -- JSON
  desired             TEXT NOT NULL DEFAULT '{}',
  desired_metadata    TEXT NOT NULL DEFAULT '{}',  -- {"$lastUpdated": ..., "key": {"$lastUpdated": ...}}
  desired_version     INTEGER NOT NULL DEFAULT 1,
  reported            TEXT NOT NULL DEFAULT '{}',
  reported_metadata   TEXT NOT NULL DEFAULT '{}',
  reported_version    INTEGER NOT NULL DEFAULT 1,
  version             INTEGER NOT NULL DEFAULT 1   -- the twin's; its etag is derived from it
);
