-- The outbox relay claims rows for a while (a lease) instead of holding a transaction open while
-- it waits for Kafka; a relay that dies lets its lease run out and another one sends the rows.
-- A row the broker refuses for good is set aside with the reason; sent rows are pruned.
ALTER TABLE outbox ADD COLUMN claimed_until timestamptz;
ALTER TABLE outbox ADD COLUMN failed_at timestamptz;
ALTER TABLE outbox ADD COLUMN failure text;
DROP INDEX IF EXISTS outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
