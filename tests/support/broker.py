"""The brokers tests run on: the embedded one and Apache Kafka, shared or a test's own.

Every integration and e2e test that uses a broker runs on both (`BROKER_KINDS`): the embedded
broker a developer starts with, and Apache Kafka, which users deploy on. One Apache Kafka node
serves the whole session (started once by the controlling process, see `SharedKafka`), and each
test has topics and consumer groups of its own on it; a test that stops and restarts its broker
gets a broker of its own (`PrivateBroker`).
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient

from merchstore.common.config.sections import TopicSettings
from merchstore.common.kafka.topics import ensure_topics
from merchstore.runtime.apache_kafka import KafkaCluster, KafkaNode, NodeAddress, new_cluster_id
from merchstore.runtime.broker_profile import EMBEDDED_BROKER_PROFILE, embedded_broker_environment
from merchstore.runtime.embedded import EmbeddedBroker
from merchstore.runtime.kafka_access import SERVICE_ACCESS, acl_bindings, create_users, grant
from merchstore.runtime.kafka_security import SUPER_USER, NodeSecurity
from merchstore.settings import Settings, load_settings
from tests.support.kafka import SecuredKafka, register_secured, secured
from tests.support.processes import free_port

BROKER_KINDS = ("embedded", "kafka")
BROKERS_VARIABLE = "MERCHSTORE_TEST_BROKERS"
"""Set (``embedded`` or ``kafka``): run the broker tests on that broker only."""
SHARED_KAFKA_VARIABLE = "MERCHSTORE_TEST_SHARED_KAFKA"
"""The folder of the session's Apache Kafka; set by the controlling process for its workers."""

TEST_JVM_OPTIONS = ("-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
"""A test node starts fast and takes little CPU: one GC thread, no optimising compiler."""


def broker_kinds() -> tuple[str, ...]:
    """The brokers this run tests on."""
    chosen = os.environ.get(BROKERS_VARIABLE)
    if not chosen:
        return BROKER_KINDS
    kinds = tuple(kind.strip() for kind in chosen.split(",") if kind.strip())
    unknown = set(kinds) - set(BROKER_KINDS)
    if unknown:
        raise pytest.UsageError(f"{BROKERS_VARIABLE}: unknown broker {', '.join(unknown)}")
    return kinds


def broker_settings(kind: str, **overrides: Any) -> dict[str, Any]:
    """``overrides`` with what broker ``kind`` needs beyond the defaults, as `up` applies it."""
    merged: dict[str, Any] = {}
    profile: dict[str, Any] = EMBEDDED_BROKER_PROFILE if kind == "embedded" else {}
    access = secured(str(overrides.get("kafka_bootstrap_servers")))
    if access is not None:  # a test's own settings log in as the super user
        profile = {"kafka": access.settings_section()}
    for section in {*profile, *overrides}:
        given = overrides.get(section)
        if isinstance(given, dict) or given is None:
            merged[section] = {**profile.get(section, {}), **(given or {})}
        else:
            merged[section] = given
    return merged


def broker_environment(kind: str) -> dict[str, str]:
    """What broker ``kind`` needs beyond the defaults, for a service process's environment."""
    return embedded_broker_environment(load_settings()) if kind == "embedded" else {}


def members_that_leave_for_good(kind: str) -> dict[str, str]:
    """Environment for consumers of a group some of whose members never come back.

    The embedded broker's profile has each consumer read every partition itself (no group to
    join: the broker holds every join for about 6 s), and it never expires a static member
    (group.instance.id) that died or stopped. Tests that share a group's partitions among
    replicas, or replace one replica with another, join the group, dynamically, there. Apache
    Kafka gives the partitions of a static member that does not return to the others after the
    session timeout, as to any member.
    """
    if kind != "embedded":
        return {}
    return {
        "MERCHSTORE_KAFKA__GROUP_MEMBERSHIP": "true",
        "MERCHSTORE_KAFKA__STATIC_MEMBERSHIP": "false",
    }


def kafka_environment(settings: Settings, user: str = SUPER_USER) -> dict[str, str]:
    """The environment that takes a merchstore process to the broker of ``settings``.

    On a secured broker it logs in as ``user``.
    """
    env = {"MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers}
    access = secured(settings.bootstrap_servers)
    return env if access is None else {**env, **access.environment(user)}


def service_login(env: dict[str, str], service: str) -> dict[str, str]:
    """On a secured broker, the environment that logs ``service`` in as its own Kafka user."""
    access = secured(env.get("MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS", ""))
    if access is None or service not in access.passwords:
        return {}
    return access.environment(service)


def secured_access(directory: Path) -> tuple[NodeSecurity, SecuredKafka]:
    """A new node's CA, certificate and super user, and a password for every service's user."""
    security = NodeSecurity.create(directory)
    passwords = {SUPER_USER: security.super_password}
    passwords |= {user: secrets.token_urlsafe(18) for user in SERVICE_ACCESS}
    return security, SecuredKafka(str(security.ca_certificate), passwords)


def grant_service_access(node: KafkaNode, access: SecuredKafka) -> None:
    """Make every service's user on a secured node, with the contract's ACLs.

    The ACLs are prefixed: tests name their topics and groups as the contract does, each
    with a suffix of its own, so a service may use any test's ``events-...`` as ``events``.
    """
    admin = AdminClient(node.admin_config())
    create_users(admin, {user: p for user, p in access.passwords.items() if user != SUPER_USER})
    topics = TopicSettings()
    grant(
        admin,
        [
            binding
            for user, allowed in SERVICE_ACCESS.items()
            for binding in acl_bindings(user, allowed, topics, prefixed=True)
        ],
    )


def kafka_node(directory: Path, security: NodeSecurity | None = None) -> KafkaNode:
    """A single Apache Kafka node on free ports, not started; secured with ``security``."""
    return KafkaNode(
        directory,
        NodeAddress(1, "127.0.0.1", free_port(), free_port()),
        jvm_options=TEST_JVM_OPTIONS,
        security=security,
    )


def kafka_cluster(
    directory: Path, security: NodeSecurity | None = None, size: int = 3
) -> KafkaCluster:
    """``size`` Apache Kafka nodes on free ports, not started; secured with ``security``."""
    addresses = [NodeAddress(i, "127.0.0.1", free_port(), free_port()) for i in range(1, size + 1)]
    return KafkaCluster(directory, addresses, jvm_options=TEST_JVM_OPTIONS, security=security)


class SharedKafka:
    """The session's Apache Kafka node, run by the controlling pytest process.

    It starts on a thread of its own while the workers collect, and that thread lives until
    the session ends (a node is asked to stop when the thread that started it ends). Workers
    find its address, or why it could not start, in its folder.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shared-kafka", daemon=True)

    def start(self) -> None:
        """Start the node in the background."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def _run(self) -> None:
        security, access = secured_access(self.directory / "tls")
        node = kafka_node(self.directory / "node", security)
        try:
            node.start(new_cluster_id())
            grant_service_access(node, access)
        except Exception as error:  # any failure is reported to every test that needs it
            (self.directory / "error").write_text(str(error))
            node.stop()
            return
        access.save(self.directory / "access.json")
        (self.directory / "bootstrap").write_text(node.bootstrap_servers)
        self._stop.wait()
        node.stop()

    def stop(self) -> None:
        """Stop the node and wait until it has."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(60)

    @staticmethod
    def bootstrap_servers(directory: Path, timeout_s: float = 240.0) -> str:
        """The running node's address, once it serves; fails the test if it could not start.

        Its clients log in from then on (`register_secured`).
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (directory / "bootstrap").exists():
                bootstrap = (directory / "bootstrap").read_text()
                register_secured(bootstrap, SecuredKafka.load(directory / "access.json"))
                return bootstrap
            if (directory / "error").exists():
                why = (directory / "error").read_text()
                pytest.fail(f"the session's Apache Kafka did not start: {why}")
            time.sleep(0.2)
        pytest.fail(f"the session's Apache Kafka did not serve within {timeout_s:.0f} s")


class PrivateBroker:
    """A broker of one test's own on fixed free ports, to stop and start again at will.

    The embedded broker comes back empty from every restart (memory only); Apache Kafka comes
    back with its topics and messages, as it does in production.
    """

    def __init__(self, kind: str, directory: Path, **settings: object) -> None:
        self.kind = kind
        self._directory = directory
        self._starts = 0
        self._embedded: EmbeddedBroker | None = None
        self._node: KafkaNode | None = None
        self._cluster_id = new_cluster_id()
        self._access: SecuredKafka | None = None
        if kind == "kafka":
            security, self._access = secured_access(directory / "tls")
            self._node = kafka_node(directory / "kafka", security)
            bootstrap = self._node.bootstrap_servers
            register_secured(bootstrap, self._access)
            port = self._node.address.port
        else:
            port = free_port()
            bootstrap = f"127.0.0.1:{port}"
        self.settings: Settings = load_settings(
            **broker_settings(
                kind, embedded={"kafka_port": port}, kafka_bootstrap_servers=bootstrap, **settings
            )
        )

    @property
    def bootstrap_servers(self) -> str:
        return self.settings.bootstrap_servers

    def service_environment(self) -> dict[str, str]:
        """What a service process needs to use this broker, its kind's profile included."""
        return {**broker_environment(self.kind), **kafka_environment(self.settings)}

    @property
    def keeps_messages(self) -> bool:
        """Whether a restart keeps the topics and their messages (Apache Kafka does)."""
        return self.kind == "kafka"

    def start(self) -> PrivateBroker:
        """Start it and create the topics (again, on the embedded broker: it lost them)."""
        self._starts += 1
        if self._node is not None:
            self._node.start(self._cluster_id)
            if self._starts == 1 and self._access is not None:
                grant_service_access(self._node, self._access)
        else:
            self._embedded = EmbeddedBroker(
                self.settings, self._directory / f"broker-{self._starts}.log"
            )
            self._embedded.start(self.settings)
        ensure_topics(self.settings)
        return self

    def stop(self) -> None:
        """Stop it (Apache Kafka: a controlled shutdown)."""
        if self._node is not None:
            self._node.stop()
        if self._embedded is not None:
            self._embedded.stop()
            self._embedded = None
