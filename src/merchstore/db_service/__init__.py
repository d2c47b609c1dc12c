"""db-service: all store data access over gRPC, PostgreSQL behind a connection pool."""
