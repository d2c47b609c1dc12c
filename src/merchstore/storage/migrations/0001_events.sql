-- storage: game and store events consumed from Kafka `events`, each stored once.
CREATE TABLE events (
    seq             bigserial   NOT NULL UNIQUE,
    event_id        uuid        PRIMARY KEY,
    event_type      text        NOT NULL CHECK (event_type IN ('default', 'purchase_sword',
                        'purchase_knife', 'join_guild', 'order_placed', 'order_cancelled')),
    user_id         text        NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    occurred_at     timestamptz NOT NULL,
    stored_at       timestamptz NOT NULL DEFAULT now(),
    -- The inserting transaction: the processor's feed reads only committed, ordered rows.
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL
);

CREATE INDEX events_by_time ON events (occurred_at, seq);
CREATE INDEX events_feed ON events (tx_id, seq);

-- Messages that were not valid events: kept with where they came from, never retried.
CREATE TABLE dead_letters (
    id              bigserial   PRIMARY KEY,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    payload         bytea,
    error           text        NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, kafka_partition, kafka_offset)
);
