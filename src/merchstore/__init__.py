"""merchstore: an event-driven merch store with centralised event logging."""

__version__ = "0.1.0"
