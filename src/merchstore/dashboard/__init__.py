"""dashboard: a web page of statistics, event-log counts and service health."""
