"""store-api's adapters: where it meets PostgreSQL, SQLite, Kafka, files or other services."""
