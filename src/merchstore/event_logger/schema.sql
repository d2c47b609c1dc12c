-- event-logger database (SQLite), schema version 2. Applied at every start; every statement is
-- idempotent. store.py migrates a version 1 database first.

-- Each consumed event_log message, stored exactly once.
CREATE TABLE IF NOT EXISTS event_log_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- unique, never reused
    code            TEXT    NOT NULL CHECK (length(code) = 4),
    message         TEXT    NOT NULL,
    service         TEXT,
    sent_at         TEXT,                          -- the producer's timestamp, as sent
    written_at      TEXT    NOT NULL,              -- when this row was written (RFC 3339, UTC)
    topic           TEXT    NOT NULL,
    topic_id        TEXT    NOT NULL DEFAULT '',   -- the topic's incarnation (broker-given id)
    kafka_partition INTEGER NOT NULL,
    kafka_offset    INTEGER NOT NULL,
    UNIQUE (topic, topic_id, kafka_partition, kafka_offset)
);

CREATE INDEX IF NOT EXISTS event_log_messages_by_code
    ON event_log_messages (code, written_at);

-- Per-code counts, maintained in the same transaction as the rows, so /events_stats never scans.
CREATE TABLE IF NOT EXISTS code_counts (
    code  TEXT    PRIMARY KEY,
    count INTEGER NOT NULL CHECK (count >= 0)
);

-- Messages that can never be stored (malformed, or refused by this database), with the reason.
CREATE TABLE IF NOT EXISTS set_aside_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    topic           TEXT    NOT NULL,
    topic_id        TEXT    NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    INTEGER NOT NULL,
    payload         BLOB,
    reason          TEXT    NOT NULL,
    set_aside_at    TEXT    NOT NULL,
    UNIQUE (topic, topic_id, kafka_partition, kafka_offset)
);

-- Where consumption resumes in each incarnation of a topic, kept in the same transaction as
-- the rows (exactly once). A topic created again has a new id, so it starts from its beginning.
CREATE TABLE IF NOT EXISTS topic_positions (
    topic           TEXT    NOT NULL,
    topic_id        TEXT    NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset     INTEGER NOT NULL,
    PRIMARY KEY (topic, topic_id, kafka_partition)
);

PRAGMA user_version = 2;
