"""processor: periodic statistics over stored events."""
