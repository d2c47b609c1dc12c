-- Tables a hostile client can make grow are bounded by time.
-- A login attempt is noted before its password is checked, as not settled; a wrong password
-- settles it as a failure, a right one deletes it. So concurrent attempts cannot all pass the
-- count: each sees those in progress. Rows of earlier versions are failures (settled).
ALTER TABLE login_failures ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE login_failures ADD COLUMN settled boolean NOT NULL DEFAULT true;
CREATE INDEX login_failures_by_time ON login_failures (failed_at);
-- Idempotency keys expire (as Stripe's do): what is older is deleted, and a key may be used again.
CREATE INDEX order_idempotency_keys_by_time ON order_idempotency_keys (created_at);
