-- What each device subscribed to, kept across connections for sessions with
-- CleanSession=0: the Node.js SDK never re-subscribes after renewing its token.
CREATE TABLE device_subscriptions (
  client_id  TEXT NOT NULL,     -- device id, or device id/module id
  feed       TEXT NOT NULL,     -- c2d, methods, twin-responses, desired-properties
  qos        INTEGER NOT NULL,
  PRIMARY KEY (client_id, feed)
);
