-- db-service: the merch store. Constraints live here too, whatever the callers check.
CREATE TABLE products (
    id          bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text          NOT NULL UNIQUE,
    description text          NOT NULL,
    category    text          NOT NULL,
    price       numeric(10,2) NOT NULL CHECK (price >= 0),
    slogan      text          NOT NULL,
    stock       integer       NOT NULL CHECK (stock >= 0),
    created_at  timestamptz   NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sid           varchar(15) NOT NULL UNIQUE CHECK (length(sid) >= 1),
    username      varchar(32) NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.-]{3,32}$'),
    email         text        NOT NULL,
    password_hash text        NOT NULL,            -- argon2; never leaves db-service
    active        boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_unique ON users (lower(email));

CREATE TABLE orders (
    id           bigint        GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint        NOT NULL REFERENCES users (id),
    product_id   bigint        NOT NULL REFERENCES products (id),
    quantity     integer       NOT NULL CHECK (quantity BETWEEN 1 AND 3),
    total_price  numeric(10,2) NOT NULL CHECK (total_price >= 0),
    status       text          NOT NULL DEFAULT 'placed' CHECK (status IN ('placed', 'cancelled')),
    created_at   timestamptz   NOT NULL DEFAULT now(),
    cancelled_at timestamptz
);
CREATE INDEX orders_by_user ON orders (user_id, id);

-- Transactional outbox: order events written with the order, sent to Kafka by the relay.
CREATE TABLE outbox (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    uuid        NOT NULL UNIQUE,
    message_key text        NOT NULL,
    payload     text        NOT NULL,               -- the event's JSON, sent byte for byte
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz                         -- set once the broker acknowledged it
);
CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
