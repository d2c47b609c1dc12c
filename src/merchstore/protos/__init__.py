"""Python modules generated from ``protos/`` by grpcio-tools at install time (never edited)."""
