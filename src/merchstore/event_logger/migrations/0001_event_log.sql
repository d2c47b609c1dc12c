-- The event-logger's first schema (version 1): rows, per-code counts, positions by topic name.
-- A database made before versions were recorded is at this version already: every
-- statement here is idempotent.

-- Each consumed event_log message, stored exactly once.
CREATE TABLE IF NOT EXISTS event_log_messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- unique, never reused
    code            TEXT    NOT NULL CHECK (length(code) = 4),
    message         TEXT    NOT NULL,
    service         TEXT,
    sent_at         TEXT,                          -- the producer's timestamp, as sent
    written_at      TEXT    NOT NULL,              -- when this row was written (RFC 3339, UTC)
    topic           TEXT    NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    INTEGER NOT NULL,
    UNIQUE (topic, kafka_partition, kafka_offset)
);

CREATE INDEX IF NOT EXISTS event_log_messages_by_code
    ON event_log_messages (code, written_at);

-- Per-code counts, maintained in the same transaction as the rows, so /events_stats never scans.
CREATE TABLE IF NOT EXISTS code_counts (
    code  TEXT    PRIMARY KEY,
    count INTEGER NOT NULL CHECK (count >= 0)
);

-- Where consumption resumes, kept in the same transaction as the rows (exactly once).
CREATE TABLE IF NOT EXISTS consumer_positions (
    topic           TEXT    NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset     INTEGER NOT NULL,
    PRIMARY KEY (topic, kafka_partition)
);
