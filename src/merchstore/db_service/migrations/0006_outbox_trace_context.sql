-- An order's event continues the order's trace though the relay publishes it later: the W3C
-- traceparent of the request that placed or cancelled the order is kept with the event.
ALTER TABLE outbox ADD COLUMN traceparent text;
