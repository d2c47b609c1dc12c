-- logging-service's spill (SQLite): lines waiting, in order, while Kafka does not acknowledge
-- them, and the lines the broker refused for good, with the reason. Idempotent: a database
-- made before versions were recorded is at this version already.
CREATE TABLE IF NOT EXISTS spilled (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS set_aside (
    id INTEGER PRIMARY KEY,
    payload BLOB NOT NULL,
    reason TEXT NOT NULL,
    set_aside_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
