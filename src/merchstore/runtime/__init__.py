"""Local runtime: embedded PostgreSQL and broker, process supervision, ``merchstore up``."""
