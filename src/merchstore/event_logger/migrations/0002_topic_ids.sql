-- Version 2: rows and positions are kept per incarnation of a topic (its broker-given id), so a
-- topic created again (a memory-only broker started again) is read from its beginning; and
-- messages that can never be stored are set aside with their reason.

-- Each consumed event_log message, stored exactly once. Rows of version 1 belong to an
-- unnamed incarnation ('').
ALTER TABLE event_log_messages RENAME TO event_log_messages_v1;
DROP INDEX IF EXISTS event_log_messages_by_code;
CREATE TABLE event_log_messages (
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
INSERT INTO event_log_messages (id, code, message, service, sent_at, written_at, topic, topic_id,
    kafka_partition, kafka_offset)
    SELECT id, code, message, service, sent_at, written_at, topic, '', kafka_partition,
        kafka_offset
    FROM event_log_messages_v1;
DROP TABLE event_log_messages_v1;
CREATE INDEX event_log_messages_by_code ON event_log_messages (code, written_at);

-- Where consumption resumes in each incarnation of a topic, kept in the same transaction as
-- the rows (exactly once). Positions of version 1 belong to the unnamed incarnation (''): a
-- broker that gives no topic ids resumes there as before; any topic with an id is read from
-- its start.
CREATE TABLE topic_positions (
    topic           TEXT    NOT NULL,
    topic_id        TEXT    NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset     INTEGER NOT NULL,
    PRIMARY KEY (topic, topic_id, kafka_partition)
);
INSERT INTO topic_positions (topic, topic_id, kafka_partition, next_offset)
    SELECT topic, '', kafka_partition, next_offset FROM consumer_positions;
DROP TABLE consumer_positions;

-- Messages that can never be stored (malformed, or refused by this database), with the reason.
CREATE TABLE set_aside_messages (
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
