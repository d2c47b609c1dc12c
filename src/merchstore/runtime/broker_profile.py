"""What the embedded broker needs beyond the defaults, which are right for Apache Kafka."""

from __future__ import annotations

from typing import Any

from merchstore.settings import Settings

EMBEDDED_BROKER_PROFILE: dict[str, dict[str, Any]] = {
    "kafka": {
        "session_timeout_ms": 6000,
        "replace_producer_on_timeout": True,
        "group_membership": False,
    },
    "storage": {"fetch_wait_max_ms": 20},
    "receiver": {"publish_timeout_ms": 5000},
    "logging_service": {"drain_delivery_timeout_ms": 10_000},
}
"""`merchstore up` applies it when it runs the embedded broker (a setting of the user's own
wins). The broker forgets producer ids when it restarts, answers a waiting fetch only when the
wait ends, and has no failover to wait for; its minimum session timeout is 6 s. It holds every
join to a group for about 6 s, so a restarted consumer would wait that long for its partitions:
under `up` each consumer group has one member, which reads every partition itself
(``kafka.group_membership`` off). It never expires a static member (``kafka.static_membership``)
that does not come back. Replicas of a consumer run on Apache Kafka, or here with group
membership on and static membership off."""


def embedded_broker_environment(settings: Settings) -> dict[str, str]:
    """`EMBEDDED_BROKER_PROFILE` as environment variables, for each setting still at its default.

    A value the user chose (in a YAML file or the environment) is left as chosen.
    """
    environment = {}
    for section, values in EMBEDDED_BROKER_PROFILE.items():
        current = getattr(settings, section)
        for name, value in values.items():
            if getattr(current, name) != type(current).model_fields[name].default:
                continue
            text = str(value).lower() if isinstance(value, bool) else str(value)
            environment[f"MERCHSTORE_{section.upper()}__{name.upper()}"] = text
    return environment
