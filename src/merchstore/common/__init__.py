"""Plumbing shared by every service: configuration, logging, Kafka, health checks."""
