"""event-logger: consumes event_log exactly once into its log file and SQLite, serves counts."""
