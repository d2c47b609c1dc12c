-- Accounts that hold up against a hostile client.
-- A password change bumps the user's token generation: tokens of an earlier one are refused.
ALTER TABLE users ADD COLUMN token_generation integer NOT NULL DEFAULT 0;

-- Failed logins per username in the last minute: the 11th within 60 s is throttled.
CREATE TABLE login_failures (
    username  text        NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_by_username ON login_failures (username, failed_at);

-- Idempotency-Key of POST /orders, stored with the order in the same transaction: a repeat
-- with the same key and body answers the first order again and moves no stock.
CREATE TABLE order_idempotency_keys (
    user_id             bigint      NOT NULL REFERENCES users (id),
    idempotency_key     text        NOT NULL,
    request_fingerprint text        NOT NULL,  -- product and quantity of the first request
    order_id            bigint      REFERENCES orders (id),  -- set in the same transaction
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, idempotency_key)
);
