-- Each event keeps the W3C trace context its writer sent with it (the `traceparent` header), so
-- the processor's work on it continues the trace of the request that made it. NULL: none sent.
ALTER TABLE events ADD COLUMN traceparent text;
