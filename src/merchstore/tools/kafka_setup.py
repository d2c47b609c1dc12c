"""``merchstore kafka-setup``: a secured Kafka's topics, users and ACLs, made by a super user.

The Compose deployment's one-shot ``kafka-init`` runs it: it logs in with a certificate the
broker counts among its super users, creates the contract's topics, gives each service's user
the password of its secret file, and allows each only what `SERVICE_ACCESS` says, under the
topic and group names the settings give. Safe to run again: topics, users and ACLs already
there stay as they are (a password file changed since is the user's new password).
"""

from __future__ import annotations

from pathlib import Path

from confluent_kafka.admin import AdminClient

from merchstore.common.kafka.clients import check_broker, client_config
from merchstore.common.kafka.topics import ensure_topics
from merchstore.runtime.compose_access import password_file
from merchstore.runtime.kafka_access import SERVICE_ACCESS, acl_bindings, create_users, grant
from merchstore.settings import Settings


def set_up_kafka(settings: Settings, passwords: Path, timeout_s: float = 120.0) -> list[str]:
    """Topics, then users with the passwords in ``passwords``, then their ACLs; what was done.

    A user without a password file there is left out, with its ACLs.
    """
    check_broker(settings, timeout_s)
    partitions = ensure_topics(settings)
    done = [f"topic {name}: {count} partition(s)" for name, count in sorted(partitions.items())]
    found = {
        user: (passwords / password_file(user)).read_text().strip()
        for user in SERVICE_ACCESS
        if (passwords / password_file(user)).is_file()
    }
    admin = AdminClient(client_config(settings))
    create_users(admin, found)
    groups = {"storage": settings.storage.group_id, "event-logger": settings.event_logger.group_id}
    for user in found:
        bindings = acl_bindings(user, SERVICE_ACCESS[user], settings.topics, groups)
        grant(admin, bindings)
        allowed = ", ".join(
            f"{str(b.operation).rsplit('.', 1)[-1].lower()} {b.name}" for b in bindings
        )
        done.append(f"user {user}: {allowed or 'nothing'}")
    return done
