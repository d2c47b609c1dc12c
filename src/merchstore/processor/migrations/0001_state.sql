-- The processor's state (SQLite): its statistics with the feed position they include, and the
-- 0004 alerts saved with their run but not yet acknowledged by the broker. Idempotent: a
-- database made before versions were recorded is at this version already.
CREATE TABLE IF NOT EXISTS statistics (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    body TEXT NOT NULL,
    feed_cursor TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    new_events INTEGER NOT NULL,
    threshold INTEGER NOT NULL
);
