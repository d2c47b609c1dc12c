"""storage: consumes game events from Kafka and persists them in PostgreSQL."""
