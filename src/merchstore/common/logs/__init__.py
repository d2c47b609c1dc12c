"""Logging: each process's setup, request lines, and shipping lines to logging-service."""
