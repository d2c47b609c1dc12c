"""Benchmark of what a secured deployment costs: SASL_SSL Kafka and mutual TLS gRPC, vs plain.

Run: ``make bench-security`` (installs ``wrk``), or ``.venv/bin/python -m bench.security``

Two ways, side by side on the same machine, their turns interleaved: plain (a PLAINTEXT Apache
Kafka node, plain gRPC, as `merchstore up` runs) and secured (an Apache Kafka node that takes
SCRAM-SHA-512 logins over TLS and checks ACLs, each service logged in as its own user, and
mutual TLS between store-api and db-service, as the Compose deployment runs). PostgreSQL is
the same for both. The figures are reported, not judged (docs/security.md):

- receiver: ``POST /purchase_a_sword`` from 32 wrk connections (a request, a publish over
  Kafka acknowledged by the broker).
- ``GET /products``: store-api from 32 connections, its product cache off so that every request
  is a gRPC call to db-service.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import partial

from bench.harness import BenchServers, apache_kafka_servers, stopped
from bench.report import Goal, interleaved, median_by, save
from bench.wrk import LoadResult, load_goal, post_load, require_wrk, run_load
from merchstore.common.kafka.topics import ensure_topics
from merchstore.runtime.apache_kafka import KafkaNode, NodeAddress, new_cluster_id
from merchstore.services import find_service
from merchstore.settings import load_settings
from tests.support.broker import grant_service_access, secured_access
from tests.support.grpc_tls import DeploymentCertificates
from tests.support.kafka import SecuredKafka
from tests.support.processes import ServiceProcess, free_port

CLIENTS = 32
BODY = '{"user_id": "7", "metadata": {"sword_type": "katana", "price": "9.99"}}'
WAYS = ("plain", "secured")


@contextmanager
def secured_kafka(servers: BenchServers) -> Iterator[tuple[str, SecuredKafka]]:
    """A second Apache Kafka node, secured as the suite's: its address and its users' logins."""
    security, access = secured_access(servers.work / "kafka-tls")
    node = KafkaNode(
        servers.work / "kafka-secured",
        NodeAddress(1, "127.0.0.1", free_port(), free_port()),
        security=security,
    )
    node.start(new_cluster_id())
    try:
        grant_service_access(node, access)
        settings = load_settings(
            kafka_bootstrap_servers=node.bootstrap_servers, kafka=access.settings_section()
        )
        ensure_topics(settings)
        yield node.bootstrap_servers, access
    finally:
        node.stop()


class Ways:
    """How a service of each way is started: its broker, its login and its certificate."""

    def __init__(
        self,
        servers: BenchServers,
        secured_bootstrap: str,
        access: SecuredKafka,
        certificates: DeploymentCertificates,
    ) -> None:
        self._servers = servers
        self._secured_bootstrap = secured_bootstrap
        self._access = access
        self._certificates = certificates

    def start(self, name: str, way: str, **extra: str) -> ServiceProcess:
        """A service of ``way`` on a port of its own, ready."""
        spec = find_service(name)
        port = free_port()
        env = self._servers.service_env(**{spec.port_setting: str(port)}, **extra)
        if way == "secured":
            env["MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS"] = self._secured_bootstrap
            env |= self._access.environment(name)
            if name in self._certificates.issued:  # the gRPC parties
                env |= self._certificates.environment(name)
        log = self._servers.work / f"{name}-{way}.out"
        return ServiceProcess(name, env, port, log, grpc=spec.protocol == "grpc").start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5, help="load duration per turn")
    parser.add_argument("--turns", type=int, default=7, help="interleaved turns")
    arguments = parser.parse_args()
    require_wrk()
    with apache_kafka_servers("security") as servers, secured_kafka(servers) as (bootstrap, users):
        certificates = DeploymentCertificates.create(
            servers.work / "ca", ["store-api", "db-service"]
        )
        measure(Ways(servers, bootstrap, users, certificates), arguments.seconds, arguments.turns)


def measure(ways: Ways, seconds: int, turns: int) -> None:
    """Both paths, both ways, in interleaved turns; the figures saved beside the others."""
    print(
        f"cpus={os.cpu_count()}  {seconds} s per load turn, {turns} turns interleaved, "
        f"wrk -t1 -c{CLIENTS}\n"
    )
    goals: list[Goal] = []
    with ExitStack() as running:
        receivers = {
            way: running.enter_context(stopped(ways.start("receiver", way))) for way in WAYS
        }
        runs = {
            way: partial(post_load, f"{p.url}/purchase_a_sword", BODY, CLIENTS, seconds)
            for way, p in receivers.items()
        }
        goals.append(_goal("receiver, 32 clients", "events/s", interleaved(runs, turns)))
    with ExitStack() as running:
        stores = {}
        for way in WAYS:
            db = running.enter_context(stopped(ways.start("db-service", way)))
            stores[way] = running.enter_context(
                stopped(
                    ways.start(
                        "store-api",
                        way,
                        MERCHSTORE_STORE_API__DB_SERVICE_TARGET=f"127.0.0.1:{db.port}",
                        # Every request a gRPC call: what mutual TLS costs, not the cache.
                        MERCHSTORE_STORE_API__PRODUCT_CACHE_S="0",
                    )
                )
            )
        runs = {
            way: partial(run_load, f"{p.url}/products", CLIENTS, seconds)
            for way, p in stores.items()
        }
        goals.append(
            _goal("GET /products (no cache), 32 clients", "req/s", interleaved(runs, turns))
        )
    save(
        "security",
        goals,
        [],
        [
            "Secured: Apache Kafka with SASL_SSL (SCRAM-SHA-512) and ACLs, each service its own"
            " user; store-api to db-service over mutual TLS. Plain: PLAINTEXT and plain gRPC.",
            "Both ways run at once as separate processes, each on its own Kafka node; only the"
            " path measured is loaded.",
        ],
    )


def _goal(path: str, unit: str, results: dict[str, list[LoadResult]]) -> Goal:
    plain = median_by(results["plain"], lambda r: r.per_second).per_second
    secured = median_by(results["secured"], lambda r: r.per_second).per_second
    print(f"{path:<38} plain {plain:>9,.0f}/s  secured {secured:>9,.0f}/s ({secured / plain:.1%})")
    return load_goal(
        f"{path}, secured vs plain", results["secured"], "plain", results["plain"], "report", unit
    )


if __name__ == "__main__":
    main()
