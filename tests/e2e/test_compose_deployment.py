"""The Docker Compose deployment brought up for real, checked as a user and a grader would.

It runs ``deploy/docker-compose.yml`` as committed, from a copy of the repository set up as the
README says (`merchstore compose-secrets`, ``.env`` from ``.env.example``), with an override
that swaps only the images no registry serves here for stand-ins built by the suite
(``tests/support/standins``): Apache Kafka from the pinned jars, PostgreSQL, NGINX and
Prometheus from Debian. One deployment serves every step, in order; each step is a subtest.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from selenium.webdriver.support.wait import WebDriverWait

from merchstore.runtime.compose_access import ADMINISTRATOR_SETTINGS, password_file
from merchstore.runtime.kafka_access import ADMINISTRATOR, SERVICE_ACCESS, TOOL_GROUPS
from tests.support.browser import chromium, text_of
from tests.support.docker_engine import (
    STANDIN_LOCKS,
    compose_override,
    require_engine,
    source_copy,
)
from tests.support.kafka import SecuredKafka, produce_one, read_to_end, register_secured
from tests.support.processes import free_port, holds_for, stop_process, wait_until
from tests.support.store import Shopper, Store
from tests.support.zipkin import ORDER_PATH, services_in

pytestmark = pytest.mark.docker

SECRETS = (
    "postgres_password",
    "merchstore_jwt_secret",
    "database_url_db_service",
    "database_url_storage",
    *(password_file(user) for user in SERVICE_ACCESS),
)
KAFKA_HOST_LISTENER = "localhost:9094"
"""Kafka's listener for this host, as the compose file publishes and advertises it."""
TAIL_GROUP = TOOL_GROUPS[0]
"""The group this host reads in as the administrator (it commits nothing)."""
READ_EVENT_LOG = """
import collections, json
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from merchstore.common.kafka.clients import client_config
from merchstore.settings import load_settings
settings = load_settings()
consumer = Consumer(client_config(settings, **{"group.id": settings.event_logger.group_id,
                                               "enable.auto.commit": False}))
partition = TopicPartition("event_log", 0)
end = consumer.get_watermark_offsets(partition, timeout=30)[1]
consumer.assign([TopicPartition("event_log", 0, OFFSET_BEGINNING)])
codes, position = collections.Counter(), 0
while position < end:
    for message in consumer.consume(500, 1.0):
        if message.error() is None:
            codes[json.loads(message.value())["code"]] += 1
            position = message.offset() + 1
consumer.close()
print(json.dumps(codes))
"""
"""Every code on ``event_log`` and how often, read in the event-logger's container as its user:
the administrator may not read ``event_log``."""
MERCHSTORE_CLI = str(Path(sys.executable).parent / "merchstore")
INTERNAL_ONLY = ("db-service", "logging-service", "storage", "processor", "postgres")


@dataclass
class Deployment:
    """One Compose project of the deployment, on ports of its own."""

    client: str
    root: Path
    project: str
    http_port: int
    prometheus_port: int
    zipkin_port: int

    @property
    def deploy(self) -> Path:
        return self.root / "deploy"

    @property
    def url(self) -> str:
        """NGINX, as published on this host."""
        return f"http://127.0.0.1:{self.http_port}"

    def compose(
        self, *arguments: str, timeout_s: float = 900, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``docker compose`` on the committed file and the stand-in override."""
        command = [
            self.client,
            "compose",
            "-p",
            self.project,
            "-f",
            str(self.deploy / "docker-compose.yml"),
            "-f",
            str(self.root / "standins.override.yml"),
            *arguments,
        ]
        environment = {
            **os.environ,
            "HTTP_PORT": str(self.http_port),
            "PROMETHEUS_PORT": str(self.prometheus_port),
            "ZIPKIN_PORT": str(self.zipkin_port),
        }
        result = subprocess.run(
            command,
            cwd=self.deploy,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        if check and result.returncode != 0:
            pytest.fail(f"docker compose {' '.join(arguments)}:\n{result.stderr[-4000:]}")
        return result

    def up(self) -> float:
        """``up -d --wait``: the seconds until every service was healthy."""
        started = time.monotonic()
        result = self.compose("up", "-d", "--build", "--wait", "--wait-timeout", "600", check=False)
        if result.returncode != 0:
            said = "\n".join(result.stderr.splitlines()[-12:])
            pytest.fail(f"compose up:\n{said}\n{self.logs_of_unhealthy()}")
        return time.monotonic() - started

    def containers(self) -> list[dict[str, Any]]:
        """Every container of the project, as ``docker compose ps`` reports it."""
        out = self.compose("ps", "-a", "--format", "json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def container(self, service: str, index: int = 1) -> str:
        """The name of a service's container (its ``index``-th replica)."""
        return f"{self.project}-{service}-{index}"

    def inspect(self, container: str) -> dict[str, Any]:
        out = self.docker("inspect", container).stdout
        return dict(json.loads(out)[0])

    def docker(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.client, *arguments], capture_output=True, text=True, timeout=300
        )
        if check and result.returncode != 0:
            pytest.fail(f"docker {' '.join(arguments)}: {result.stderr[-2000:]}")
        return result

    def python_in(self, container: str, code: str) -> subprocess.CompletedProcess[str]:
        """Python code run in a merchstore container, as its own user."""
        return self.docker("exec", container, "python", "-c", code, check=False)

    def address_of(self, container: str, network: str = "edge") -> str:
        networks = self.inspect(container)["NetworkSettings"]["Networks"]
        return str(networks[f"{self.project}_{network}"]["IPAddress"])

    def logs_of_unhealthy(self) -> str:
        parts = []
        for entry in self.containers():
            if entry.get("Health") not in ("", "healthy") or entry["State"] != "running":
                logs = self.docker("logs", "--tail", "30", entry["Name"], check=False)
                parts.append(f"--- {entry['Name']} ({entry['State']}):\n{logs.stderr}{logs.stdout}")
                parts.extend(self.health_checks(entry["Name"]))
        return "\n".join(parts)

    def health_checks(self, container: str) -> list[str]:
        """The container's last health checks as Docker kept them: when, exit code, output."""
        health = self.inspect(container)["State"].get("Health") or {}
        return [
            f"  check {check['Start'][11:19]}-{check['End'][11:19]} exit {check['ExitCode']}: "
            f"{check['Output'].strip()[-300:]}"
            for check in health.get("Log", [])
        ]

    def secrets(self) -> dict[str, str]:
        """The secret files `merchstore compose-secrets` made, by name."""
        return {name: (self.deploy / "secrets" / name).read_text().strip() for name in SECRETS}


@pytest.fixture
def deployment(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The deployment set up as the README says (not yet up); brought down with its volumes."""
    client = require_engine()
    root = source_copy(tmp_path / "repository")
    # The README's steps, from the deploy folder.
    subprocess.run(
        [MERCHSTORE_CLI, "compose-secrets", "secrets"],
        cwd=root / "deploy",
        check=True,
        capture_output=True,
        timeout=60,
    )
    (root / "deploy" / ".env").write_text((root / "deploy" / ".env.example").read_text())
    override = compose_override(root / "deploy" / "docker-compose.yml", STANDIN_LOCKS)
    (root / "standins.override.yml").write_text(yaml.safe_dump(override))
    deployment = Deployment(
        client,
        root,
        f"merchstore-e2e-{uuid.uuid4().hex[:8]}",
        free_port(),
        free_port(),
        free_port(),
    )
    try:
        yield deployment
    finally:
        deployment.compose("down", "-v", "--remove-orphans", "--timeout", "20", check=False)


def served_by(url: str, requests: int = 30) -> Counter[str]:
    """Which store-api replica answered each of ``requests`` requests through NGINX."""
    with httpx.Client(base_url=url, timeout=30) as http:
        answers = [http.get("/") for _ in range(requests)]
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    return Counter(answer.headers["X-Served-By"] for answer in answers)


@pytest.mark.timeout(2400)
def test_the_system_through_compose(deployment: Deployment, subtests: Any, tmp_path: Path) -> None:
    with subtests.test("the override changes nothing but images and build arguments"):
        override = yaml.safe_load((deployment.root / "standins.override.yml").read_text())
        assert set(override) == {"services"}
        for name, service in override["services"].items():
            assert set(service) <= {"image", "build"}, name
            assert set(service.get("build", {})) <= {"args"}, name

    seconds = deployment.up()
    print(f"compose up --build --wait: {seconds:.0f} s")
    store = Store(deployment.url)
    secrets = deployment.secrets()
    # This host reaches Kafka as the administrator, the one user of the published port.
    administrator = SecuredKafka(
        str(deployment.deploy / "secrets" / "ca.crt"),
        {ADMINISTRATOR: secrets[password_file(ADMINISTRATOR)]},
    )
    register_secured(KAFKA_HOST_LISTENER, administrator)
    host_settings = {
        **os.environ,
        "MERCHSTORE_CONFIG_FILE": str(deployment.deploy / "secrets" / ADMINISTRATOR_SETTINGS),
    }

    def on_event_log() -> dict[str, int]:
        """The codes on ``event_log`` and how often each was sent."""
        run = deployment.python_in(deployment.container("event-logger"), READ_EVENT_LOG)
        assert run.returncode == 0, run.stderr[-2000:]
        return {code: int(count) for code, count in json.loads(run.stdout).items()}

    def counted() -> dict[str, int]:
        """The event-logger's counts through NGINX (none while it does not answer)."""
        try:
            answer = httpx.get(f"{deployment.url}/event-logger/events_stats", timeout=10)
        except httpx.HTTPError:
            return {}
        if answer.status_code != 200:
            return {}
        return {code: count for code, count in answer.json().items() if count}

    def all_counted_once() -> bool:
        return counted() == on_event_log()

    with subtests.test("every service healthy with up --wait"):
        containers = deployment.containers()
        init = [c for c in containers if c["Service"] == "kafka-init"]
        assert [(c["State"], c["ExitCode"]) for c in init] == [("exited", 0)]
        running = [c for c in containers if c["Service"] != "kafka-init"]
        replicas = [c for c in running if c["Service"] == "store-api"]
        assert len(running) == 14 and len(replicas) == 2

        def unhealthy() -> dict[str, str]:
            """Each container not healthy now, with what its last health check said."""
            found = {}
            for entry in deployment.containers():
                if entry["Service"] == "kafka-init":
                    continue
                state = deployment.inspect(entry["Name"])["State"]
                health = state.get("Health") or {}
                if state["Status"] != "running" or health.get("Status") != "healthy":
                    last = (health.get("Log") or [{}])[-1].get("Output", "")
                    found[entry["Name"]] = f"{state['Status']}, {health.get('Status')}: {last}"
            return found

        # up --wait saw every one healthy; on a loaded machine a check may time out once
        # afterwards (three in a row make a container unhealthy): it must come back by itself.
        try:
            wait_until(lambda: not unhealthy(), 120, "every container healthy", interval_s=2)
        except AssertionError:
            raise AssertionError(f"not healthy: {unhealthy()}") from None

    with subtests.test("Prometheus scrapes every service"):

        def targets() -> list[dict[str, Any]]:
            answer = httpx.get(
                f"http://127.0.0.1:{deployment.prometheus_port}/api/v1/targets", timeout=10
            )
            return list(answer.json()["data"]["activeTargets"])

        wait_until(
            lambda: len(targets()) >= 9 and all(t["health"] == "up" for t in targets()),
            90,
            "every Prometheus target up",
            interval_s=2,
        )

    with subtests.test("only NGINX, Prometheus, Zipkin and Kafka's host listener are published"):
        published = {}
        for entry in deployment.containers():
            bindings = deployment.inspect(entry["Name"])["HostConfig"]["PortBindings"] or {}
            for port, hosts in bindings.items():
                for host in hosts:
                    published[(entry["Service"], port)] = (host["HostIp"], int(host["HostPort"]))
        assert published == {
            ("nginx", "80/tcp"): ("", deployment.http_port),  # every address, as a web server
            ("prometheus", "9090/tcp"): ("127.0.0.1", deployment.prometheus_port),
            ("zipkin", "9411/tcp"): ("127.0.0.1", deployment.zipkin_port),
            ("kafka", "9094/tcp"): ("127.0.0.1", 9094),
        }

    with subtests.test("merchstore containers run as uid 10001, not root"):
        built = [c for c in deployment.containers() if c["Image"].startswith("merchstore:")]
        assert len(built) == 10  # kafka-init among them, exited
        for entry in built:
            assert deployment.inspect(entry["Name"])["Config"]["User"] == "10001"
        for entry in (c for c in built if c["State"] == "running"):
            uid = deployment.docker("exec", entry["Name"], "id", "-u").stdout.strip()
            assert uid == "10001", entry["Name"]

    with subtests.test("no way out of the internal network"):
        outside = socket.gethostbyname("deb.debian.org")
        probe = f"import socket; socket.create_connection(({outside!r}, 80), 5); print('out')"
        # On the edge network the same probe gets out: the check can tell the two apart.
        edge = deployment.python_in(deployment.container("receiver"), probe)
        assert edge.stdout.strip() == "out", edge.stderr
        for service in ("db-service", "logging-service", "storage", "processor"):
            inside = deployment.python_in(deployment.container(service), probe)
            assert inside.returncode != 0 and "out" not in inside.stdout, service

    with subtests.test("no secret in any container's settings"):
        for entry in deployment.containers():
            settings = json.dumps(deployment.inspect(entry["Name"])["Config"])
            for name, value in secrets.items():
                assert value not in settings, f"{name} in the settings of {entry['Name']}"

    shopper: Shopper | None = None
    order: dict[str, Any] = {}
    sword_id = ""
    with subtests.test("the store and the game through NGINX"):
        shopper = store.register("compose")
        placed = store.http.post(
            "/orders", headers=shopper.auth, json={"product_id": 1, "quantity": 2}
        )
        assert placed.status_code == 201, placed.text
        second = store.http.post(
            "/orders", headers=shopper.auth, json={"product_id": 2, "quantity": 1}
        )
        assert second.status_code == 201, second.text
        order = second.json()
        cancelled = store.http.delete(f"/orders/{order['id']}", headers=shopper.auth)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        stock = {p["id"]: p["stock"] for p in store.http.get("/products").json()}
        assert stock[1] == 498 and stock[2] == 500 and stock[3] == 500  # before the traced one
        sword = httpx.post(
            f"{deployment.url}/receiver/purchase_a_sword",
            json={"user_id": str(shopper.id), "metadata": {"sword_type": "katana"}},
            timeout=30,
        )
        assert sword.status_code == 201, sword.text
        sword_id = sword.json()["event_id"]

    with subtests.test("an order through NGINX is one trace of five services in Zipkin"):
        assert shopper is not None
        trace_id = uuid.uuid4().hex
        traced = store.http.post(
            "/orders",
            headers={**shopper.auth, "traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"},
            json={"product_id": 3, "quantity": 1},
        )
        assert traced.status_code == 201, traced.text
        zipkin = f"http://127.0.0.1:{deployment.zipkin_port}"
        wait_until(
            lambda: services_in(zipkin, trace_id) >= ORDER_PATH,
            180,
            f"spans of {sorted(ORDER_PATH)} in the order's trace in Zipkin",
        )

    with subtests.test("events_stats counts every announcement on event_log once"):
        wait_until(lambda: all_counted_once(), 60, "the counts")
        assert {"0001", "0002", "0003"} <= set(counted())

    with subtests.test("the dashboard in Chromium"), chromium(tmp_path / "chromium") as browser:
        browser.get(f"{deployment.url}/dashboard/")
        wait = WebDriverWait(browser, 60, poll_frequency=0.5)
        wait.until(lambda d: text_of(d, "#count-purchase_sword") == "1")
        wait.until(lambda d: text_of(d, "li[data-code='0002']").startswith("0002"))

    with subtests.test("both store-api replicas serve (X-Served-By)"):
        assert len(served_by(deployment.url)) == 2

    with subtests.test("a store-api replica crashes: every request is still served"):
        victim = deployment.container("store-api", 1)
        os.kill(deployment.inspect(victim)["State"]["Pid"], signal.SIGKILL)
        served_by(deployment.url, 40)
        # Its restart policy brings it back, and NGINX uses it again.
        wait_until(lambda: len(served_by(deployment.url, 10)) == 2, 180, "the replica back")

    with subtests.test("a restarted receiver with a new address is still reached"):
        nginx_started = deployment.inspect(deployment.container("nginx"))["State"]["StartedAt"]
        receiver = deployment.container("receiver")
        before = deployment.address_of(receiver)
        deployment.compose("stop", "receiver")
        # Something else takes the address it had, as on a busy host, so it gets another.
        placeholder = deployment.docker(
            "run",
            "-d",
            "--rm",
            "--network",
            f"{deployment.project}_edge",
            "--entrypoint",
            "sleep",
            "merchstore:latest",
            "600",
        ).stdout.strip()
        try:
            deployment.compose("start", "receiver")
            after = deployment.address_of(receiver)
            assert after != before, "the receiver got its old address back: nothing to prove"

            def reached() -> bool:
                try:
                    return httpx.get(f"{deployment.url}/receiver/", timeout=10).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(reached, 60, "the receiver through NGINX", interval_s=0.5)
        finally:
            deployment.docker("rm", "-f", placeholder, check=False)
        assert deployment.inspect(deployment.container("nginx"))["State"]["StartedAt"] == (
            nginx_started
        )

    with subtests.test("event-logger stopped and started: counts go on, nothing twice"):
        wait_until(lambda: all_counted_once(), 60, "the counts")
        deployment.compose("stop", "event-logger")
        # Announcements sent while it is down: a restarted receiver says 0001 again.
        deployment.compose("restart", "receiver")
        deployment.compose("start", "event-logger")
        expected = on_event_log()
        wait_until(lambda: all_counted_once(), 90, "the counts after start")
        holds_for(lambda: all_counted_once(), 3, "each counted once")
        assert counted()["0001"] >= expected["0001"] >= 3

    with subtests.test("the published Kafka port takes the administrator only, read-only"):
        with pytest.raises(KafkaException):
            AdminClient({"bootstrap.servers": KAFKA_HOST_LISTENER}).list_topics(timeout=10)
        wrong = produce_as(ADMINISTRATOR, "log-channel", **{"sasl.password": "not-it"})
        assert KafkaError._AUTHENTICATION in {error.code() for error in wrong}
        refused = produce_as(ADMINISTRATOR, "log-channel")
        assert KafkaError.TOPIC_AUTHORIZATION_FAILED in {error.code() for error in refused}
        lines = read_to_end(
            KAFKA_HOST_LISTENER, "log-channel", user=ADMINISTRATOR, group=TAIL_GROUP
        )
        assert lines and all(m.value() != b"written?" for m in lines)

    with subtests.test("a container on the internal network without a certificate"):
        assert shopper is not None
        tried = deployment.docker(
            "run",
            "--rm",
            "--network",
            f"{deployment.project}_internal",
            "--entrypoint",
            "python",
            "merchstore:latest",
            "-c",
            CALL_DB_SERVICE,
            (deployment.deploy / "secrets" / "ca.crt").read_text(),
            check=False,
        )
        assert tried.returncode == 0, tried.stderr[-2000:]
        assert tried.stdout.split() == ["UNAVAILABLE", "UNAVAILABLE"], tried.stdout
        # Nothing was made: the user it tried to register does not exist.
        assert not_registered(store, "intruder")

    with subtests.test("the dashboard's certificate may probe db-service but not call it"):
        run = deployment.python_in(deployment.container("dashboard"), CALL_AS_DASHBOARD)
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.split() == ["SERVING", "PERMISSION_DENIED"], run.stdout
        assert not_registered(store, "dashboard_user")

    with subtests.test("PostgreSQL: each service's role over TLS, owning only its tables"):
        superuser = deployment.secrets()["postgres_password"]
        seen = {}
        for service in ("db-service", "storage"):
            run = deployment.docker(
                "exec",
                deployment.container(service),
                "python",
                "-c",
                PROBE_POSTGRES,
                superuser,
                check=False,
            )
            assert run.returncode == 0, run.stderr[-2000:]
            seen[service] = json.loads(run.stdout)
        assert seen["db-service"]["role"] == "db_service" and seen["storage"]["role"] == "storage"
        assert {"users", "orders", "outbox"} <= set(seen["db-service"]["owns"])
        assert {"events", "dead_letters"} <= set(seen["storage"]["owns"])
        for service, found in seen.items():
            assert found["superuser"] is False and found["tls"] is True, (service, found)
            assert found["other_service_table"] == "DENIED", (service, found)
            assert found["public_schema"] == "DENIED", (service, found)
            # No line of pg_hba.conf takes a plain connection, nor the superuser over the network.
            assert "no pg_hba.conf entry" in found["plain"], (service, found)
            assert "no pg_hba.conf entry" in found["superuser_login"], (service, found)

    with subtests.test("merchstore events tail and logs tail from this host"):
        environment = {**host_settings, "MERCHSTORE_DATA_DIR": str(tmp_path / "tails")}
        assert tail_shows(["events", "tail", "--from-beginning"], sword_id, environment)
        assert tail_shows(
            ["logs", "tail"],
            "GET /products 200",
            environment,
            tmp_path,
            meanwhile=lambda: httpx.get(f"{deployment.url}/products", timeout=10),
        )

    with subtests.test("an unreadable secret stops a service with one line"):
        secret = deployment.deploy / "secrets" / "database_url_db_service"
        secret.chmod(0o600)
        try:
            run = deployment.compose(
                "run", "--rm", "--no-deps", "db-service", timeout_s=180, check=False
            )
        finally:
            secret.chmod(0o644)
        said = (run.stdout + run.stderr).strip().splitlines()
        assert run.returncode != 0
        assert "Traceback" not in run.stderr
        mentions = [line for line in said if "merchstore_database_url" in line]
        assert len(mentions) == 1 and "10001" in mentions[0], said[-10:]

    with subtests.test("--scale store-api=3: the third replica gets traffic, NGINX not restarted"):
        nginx_started = deployment.inspect(deployment.container("nginx"))["State"]["StartedAt"]
        deployment.compose("up", "-d", "--no-recreate", "--wait", "--scale", "store-api=3")
        wait_until(lambda: len(served_by(deployment.url, 15)) == 3, 60, "three replicas")
        assert deployment.inspect(deployment.container("nginx"))["State"]["StartedAt"] == (
            nginx_started
        )

    with subtests.test("down then up: everything stored survives"):
        assert shopper is not None
        orders = store.http.get("/orders", headers=shopper.auth).json()
        stock = {p["id"]: p["stock"] for p in store.http.get("/products").json()}
        counts = counted()
        statistics = processor_stats(deployment)
        deployment.compose("down", "--timeout", "20")
        deployment.up()
        token = store.login(shopper.username, shopper.password)
        assert store.http.get("/orders", headers={"Authorization": f"Bearer {token}"}).json() == (
            orders
        )
        assert {p["id"]: p["stock"] for p in store.http.get("/products").json()} == stock
        wait_until(lambda: all_counted_once(), 60, "the counts")
        assert all(counted()[code] >= count for code, count in counts.items())
        assert processor_stats(deployment)["total_events"] >= statistics["total_events"] > 0
        on_events = read_to_end(KAFKA_HOST_LISTENER, "events", user=ADMINISTRATOR, group=TAIL_GROUP)
        assert sword_id in {json.loads(m.value() or b"")["event_id"] for m in on_events}

    with subtests.test("down -v: the volumes are gone"):
        deployment.compose("down", "-v", "--timeout", "20")
        project = f"label=com.docker.compose.project={deployment.project}"
        volumes = deployment.docker("volume", "ls", "-q", "--filter", project).stdout.split()
        assert volumes == []


CALL_DB_SERVICE = """
import grpc, sys
from merchstore.protos import store_pb2, store_pb2_grpc
request = store_pb2.CreateUserRequest(
    sid="S1", username="intruder", email="intruder@example.com", password="p" * 12
)
# The deployment's CA is public: the client trusts db-service, but shows no certificate.
trusting = grpc.ssl_channel_credentials(root_certificates=sys.argv[1].encode())
for channel in (
    grpc.insecure_channel("db-service:50051"),
    grpc.secure_channel("db-service:50051", trusting),
):
    try:
        store_pb2_grpc.StoreDataStub(channel).CreateUser(request, timeout=20)
        print("CALLED")
    except grpc.RpcError as error:
        print(error.code().name)
"""
"""A call to db-service from a container without a certificate: plain, then TLS without one."""

CALL_AS_DASHBOARD = """
import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from merchstore.common.grpc_channels import open_channel
from merchstore.protos import store_pb2, store_pb2_grpc
from merchstore.settings import load_settings
request = store_pb2.CreateUserRequest(
    sid="S2", username="dashboard_user", email="dashboard@example.com", password="p" * 12
)
with open_channel("db-service:50051", load_settings().grpc_tls.material()) as channel:
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=20)
    print(health_pb2.HealthCheckResponse.ServingStatus.Name(health.status))
    try:
        store_pb2_grpc.StoreDataStub(channel).CreateUser(request, timeout=20)
        print("CALLED")
    except grpc.RpcError as error:
        print(error.code().name)
"""
"""db-service called from the dashboard's container with its certificate: health, then a
registration, which only store-api's certificate may make."""

PROBE_POSTGRES = """
import json, sys, psycopg
from merchstore.settings import load_settings
own = load_settings().database_dsn
others = {"db_service": "storage.events", "storage": "db_service.users"}
found = {}
with psycopg.connect(own) as connection:
    found["role"], found["superuser"], found["tls"] = connection.execute(
        "SELECT rolname, rolsuper, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())"
        " FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    found["owns"] = [row[0] for row in connection.execute(
        "SELECT tablename FROM pg_tables WHERE tableowner = current_user"
    )]
    for key, statement in (
        ("other_service_table", f"SELECT 1 FROM {others[found['role']]} LIMIT 1"),
        ("public_schema", "CREATE TABLE public.planted (x int)"),
    ):
        try:
            connection.execute(statement)
            found[key] = "ALLOWED"
        except psycopg.errors.InsufficientPrivilege:
            found[key] = "DENIED"
        connection.rollback()
superuser = own.split("://")[0] + "://merchstore:" + sys.argv[1] + "@" + own.split("@", 1)[1]
for key, url in (("plain", own.replace("sslmode=verify-full", "sslmode=disable")),
                 ("superuser_login", superuser)):
    try:
        psycopg.connect(url, connect_timeout=20).close()
        found[key] = "CONNECTED"
    except psycopg.OperationalError as error:
        found[key] = str(error)
print(json.dumps(found))
"""
"""What a storing service's own role is and may do in PostgreSQL, asked in its container: its
role, whether TLS carries it, the tables it owns, another service's table and the public schema;
and whether a plain connection, or the superuser (password given), is let in."""


def not_registered(store: Store, username: str) -> bool:
    """Whether ``username`` has no account: its login with the tried password answers 401."""
    login = {"username": username, "password": "p" * 12}
    return store.http.post("/users/login", json=login).status_code == 401


def produce_as(user: str, topic: str, **login: object) -> list[KafkaError]:
    """Produce one message to ``topic`` from this host as ``user``; every error seen.

    Not idempotent: a user who may write no topic is refused that before any topic.
    """
    return produce_one(
        KAFKA_HOST_LISTENER,
        topic,
        user,
        **{"enable.idempotence": False, "message.timeout.ms": 10_000, **login},
    )


def processor_stats(deployment: Deployment) -> dict[str, Any]:
    """The processor's statistics, asked inside its container (it is on the internal network)."""
    run = deployment.python_in(
        deployment.container("processor"),
        "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8100/stats').read().decode())",
    )
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


def tail_shows(
    arguments: list[str],
    wanted: str,
    environment: dict[str, str],
    cwd: Path | None = None,
    meanwhile: Callable[[], object] = lambda: None,
) -> bool:
    """Whether `merchstore <arguments>` prints a line holding ``wanted`` within 60 s.

    ``meanwhile`` runs every half second while it waits: a tail that follows from now needs
    something new to show.
    """
    process = subprocess.Popen(
        [MERCHSTORE_CLI, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
        cwd=cwd,
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(wanted in line for line in list(lines)):
                return True
            meanwhile()
            if process.poll() is not None:
                pytest.fail(f"merchstore {' '.join(arguments)} ended: {''.join(lines)[-2000:]}")
            time.sleep(0.5)
        pytest.fail(f"merchstore {' '.join(arguments)} never showed {wanted!r}: {lines[-20:]}")
    finally:
        stop_process(process, 15)
        reader.join(5)
