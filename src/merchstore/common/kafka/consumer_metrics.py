"""What every Kafka consumer reports on /metrics: processed, set aside, failed, lag, gaps.

Apart from the HTTP and gRPC metrics, so that a command-line tool that consumes imports
prometheus_client only, not the web frameworks.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CONSUMED = Counter(
    "consumer_messages_processed_total",
    "Messages a consumer stored (or otherwise handled) for good",
    ["consumer"],
)

SET_ASIDE = Counter(
    "consumer_messages_set_aside_total",
    "Messages a consumer set aside because no retry could handle them",
    ["consumer"],
)

FAILED_ATTEMPTS = Counter(
    "consumer_failed_attempts_total",
    "Attempts to store a batch that failed and will be retried",
    ["consumer"],
)

STALLED = Gauge(
    "consumer_stalled", "1 while every attempt to store what was read keeps failing", ["consumer"]
)

SKIPPED = Counter(
    "consumer_messages_skipped_total",
    "Messages a consumer never read because retention deleted them before it resumed (a gap)",
    ["consumer", "topic", "partition"],
)

LOG_RESTARTS = Counter(
    "consumer_log_restarts_total",
    "Times a partition's log ended below the consumer's stored position under the same topic"
    " id (an unclean leader election, a replaced disk); it resumed at the log's end",
    ["consumer", "topic", "partition"],
)

LAG = Gauge(
    "consumer_lag_messages",
    "Messages on a partition the consumer has not processed yet: the broker's high watermark"
    " (from the last fetch) minus the consumer's next offset",
    ["consumer", "topic", "partition"],
)
