"""Who may do what on a secured Kafka: a user per service, and only the ACLs it needs.

The table is the contract's "who may talk to whom" for Kafka: each service writes the topics it
publishes to and reads the topics of its own consumer group, and nothing else (no other group's
offsets, no topic creation or deletion). The administrator follows ``log-channel`` and
``events`` from outside and writes nothing. Users are SCRAM-SHA-512 credentials, made and
granted through the Admin API by a super user of the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from merchstore.common.config.sections import TopicSettings

SCRAM_ITERATIONS = 8192
"""Apache Kafka's own default for SCRAM-SHA-512 credentials."""

ADMINISTRATOR = "administrator"
"""The user of the published port: reads ``log-channel`` and ``events``, writes nothing."""

TOOL_GROUPS = ("merchstore-tail", "merchstore-verify")
"""The consumer groups the tails name (they commit nothing, and only their own)."""


@dataclass(frozen=True)
class Access:
    """What one user may do: topics by role (``events``, ``event_log``, ``log_channel``)."""

    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


SERVICE_ACCESS: dict[str, Access] = {
    "receiver": Access(writes=("events", "event_log")),
    "storage": Access(writes=("event_log",), reads=("events",), groups=("storage",)),
    "processor": Access(writes=("event_log",)),
    "event-logger": Access(reads=("event_log",), groups=("event-logger",)),
    "store-api": Access(writes=("event_log",)),
    "db-service": Access(writes=("events", "event_log")),
    "logging-service": Access(writes=("log_channel", "event_log")),
    ADMINISTRATOR: Access(reads=("log_channel", "events"), groups=TOOL_GROUPS),
}
"""Each Kafka user and what it may do; the dashboard does not talk to Kafka."""


def topic_name(role: str, topics: TopicSettings) -> str:
    """The name of the topic that plays ``role`` (``log_channel`` is ``log-channel``)."""
    return str(getattr(topics, role))


def acl_bindings(
    user: str,
    access: Access,
    topics: TopicSettings,
    group_names: Mapping[str, str] | None = None,
    *,
    prefixed: bool = False,
) -> list[AclBinding]:
    """The ACLs that allow ``user`` what ``access`` says and nothing more.

    ``group_names`` maps a group of the table to the one the service is configured with.
    ``prefixed``: each name stands for every topic or group whose name starts with it (a test
    suite's topics and groups are the contract's names with a suffix of each test's own).
    """
    principal = f"User:{user}"
    names = group_names or {}

    def allow(kind: ResourceType, name: str, operation: AclOperation) -> AclBinding:
        return AclBinding(
            kind,
            name,
            ResourcePatternType.PREFIXED if prefixed else ResourcePatternType.LITERAL,
            principal,
            "*",
            operation,
            AclPermissionType.ALLOW,
        )

    bindings = [
        allow(ResourceType.TOPIC, topic_name(role, topics), AclOperation.WRITE)
        for role in access.writes
    ]
    bindings += [
        allow(ResourceType.TOPIC, topic_name(role, topics), AclOperation.READ)
        for role in access.reads
    ]
    bindings += [
        allow(ResourceType.GROUP, names.get(group, group), AclOperation.READ)
        for group in access.groups
    ]
    return bindings


def create_users(admin: AdminClient, passwords: Mapping[str, str], timeout_s: float = 30) -> None:
    """Make (or give a new password to) each SCRAM-SHA-512 user of ``passwords``."""
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            user,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
            password.encode(),
        )
        for user, password in passwords.items()
    ]
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result(timeout_s)


def grant(admin: AdminClient, bindings: Iterable[AclBinding], timeout_s: float = 30) -> None:
    """Create each ACL (one already there is left as it is)."""
    listed = list(bindings)
    if not listed:
        return
    for future in admin.create_acls(listed, request_timeout=timeout_s).values():
        future.result(timeout_s)
