"""Scaling out on one machine: two store-api replicas behind NGINX, two storage consumers.

Run: ``make bench-scale`` (installs ``wrk``), or ``.venv/bin/python -m bench.scale``

Each figure is the median of three interleaved runs:
- ``GET /products/1`` (product cache off, so every request reaches db-service) and
  ``GET /products`` (cache on) through NGINX with one store-api replica against two, at 32
  clients; both setups share one db-service.
- storage storing events already on a 3-partition topic: one consumer against two in the same
  group (each its own process), events per second from start to the last row.
Reported as they come out on this machine, with no goal: on 2 cores a second process mostly
competes for the same CPU. On more cores each replica or consumer adds its own core, until
db-service, PostgreSQL or the broker becomes the limit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from functools import partial
from pathlib import Path

import psycopg
from confluent_kafka import Producer

from bench.harness import BenchServers, embedded_servers
from bench.report import Goal, interleaved, median_by, save
from bench.wrk import load_goal, require_wrk, run_load
from merchstore.common.messages import DomainEvent
from merchstore.common.postgres import apply_migrations
from merchstore.runtime.load_balancer import local_nginx_config
from merchstore.settings import Settings
from tests.support.processes import ServiceProcess, free_port, http_ok, wait_until


def nginx_in_front(
    work: Path, settings: Settings, name: str, ports: list[int]
) -> tuple[subprocess.Popen[bytes], str]:
    """NGINX balancing over store-api replicas on ``ports``; return it and its URL."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("nginx is not installed: `make bench-scale` installs it")
    listen = free_port()
    layout = settings.model_copy(
        update={"store_api": settings.store_api.model_copy(update={"port": listen})}
    )
    config = work / f"nginx-{name}.conf"
    config.write_text(local_nginx_config(layout, ports, work / f"nginx-{name}"))
    process = subprocess.Popen(
        [nginx, "-c", str(config), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{listen}"
    wait_until(lambda: http_ok(f"{url}/products/1"), 30, f"NGINX {name}")
    return process, url


def store_replicas(servers: BenchServers, cache_s: float) -> tuple[list[ServiceProcess], list[int]]:
    """One db-service and two store-api replicas using it."""
    db_port = free_port()
    env = servers.service_env(MERCHSTORE_DB_SERVICE__PORT=str(db_port))
    db = ServiceProcess("db-service", env, db_port, servers.work / "db.out", grpc=True).start()
    started, ports = [db], []
    for replica in (1, 2):
        port = free_port()
        api_env = {
            **env,
            "MERCHSTORE_STORE_API__PORT": str(port),
            "MERCHSTORE_STORE_API__PRODUCT_CACHE_S": str(cache_s),
            "MERCHSTORE_STORE_API__REPLICA_NAME": f"replica-{replica}",
        }
        log = servers.work / f"store-api-{replica}-{cache_s}.out"
        started.append(ServiceProcess("store-api", api_env, port, log).start())
        ports.append(port)
    return started, ports


def preload(bootstrap: str, topic: str, count: int) -> None:
    """Put ``count`` events on ``topic``, keyed over many users (so over every partition)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for number in range(count):
        event = DomainEvent.new("purchase_sword", str(number % 500), {"sword_type": "katana"})
        while True:
            try:
                producer.produce(topic, event.to_json(), key=event.user_id)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)


def storage_rate(servers: BenchServers, consumers: int, count: int, run: list[int]) -> float:
    """Events/s for ``consumers`` storage processes to store ``count`` preloaded events."""
    run[0] += 1
    topic = f"scale-{consumers}-{run[0]}"
    servers.with_topics(events=topic)
    preload(servers.bootstrap, topic, count)
    with psycopg.connect(servers.database_url, autocommit=True) as connection:
        row = connection.execute("SELECT count(*) FROM events").fetchone()
        before = int(row[0]) if row else 0
        started_at = time.perf_counter()
        processes = []
        try:
            for number in range(consumers):
                port = free_port()
                env = servers.service_env(
                    MERCHSTORE_STORAGE__PORT=str(port),
                    MERCHSTORE_STORAGE__GROUP_ID=f"group-{topic}",
                    MERCHSTORE_TOPICS__EVENTS=topic,
                )
                log = servers.work / f"storage-{topic}-{number}.out"
                processes.append(ServiceProcess("storage", env, port, log).start(wait=False))
            while True:
                row = connection.execute("SELECT count(*) FROM events").fetchone()
                if row and int(row[0]) >= before + count:
                    break
                if time.perf_counter() - started_at > 300:
                    raise SystemExit(f"{consumers} storage consumer(s) did not finish in 300 s")
                time.sleep(0.05)
            return count / (time.perf_counter() - started_at)
        finally:
            for process in processes:
                process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--events", type=int, default=20_000)
    arguments = parser.parse_args()
    require_wrk()
    with embedded_servers("scale") as servers:
        measure_all(arguments, servers)


def measure_all(arguments: argparse.Namespace, servers: BenchServers) -> None:
    """Run the measurements of ``main`` on ``servers``."""
    print(f"cpus={os.cpu_count()}  medians of 3\n")
    goals: list[Goal] = []
    for label, path, cache_s in (
        ("GET /products/1 (cache off)", "/products/1", 0.0),
        ("GET /products (cache on)", "/products", 1.0),
    ):
        processes, ports = store_replicas(servers, cache_s)
        one, one_url = nginx_in_front(servers.work, servers.settings, f"one-{cache_s}", ports[:1])
        two, two_url = nginx_in_front(servers.work, servers.settings, f"two-{cache_s}", ports)
        try:
            runs = interleaved(
                {
                    "one": partial(run_load, f"{one_url}{path}", 32, arguments.seconds),
                    "two": partial(run_load, f"{two_url}{path}", 32, arguments.seconds),
                }
            )
        finally:
            for nginx in (one, two):
                nginx.terminate()
                nginx.wait()
            for process in processes:
                process.stop()
        a = median_by(runs["one"], lambda r: r.per_second)
        b = median_by(runs["two"], lambda r: r.per_second)
        print(
            f"{label:<30} one replica {a.per_second:>7,.0f}/s | two {b.per_second:>7,.0f}/s"
            f" | {b.per_second / a.per_second:.2f}x"
        )
        goals.append(
            load_goal(
                f"two store-api replicas behind NGINX vs one, {label}, 32 clients",
                runs["two"],
                "one replica",
                runs["one"],
                "report",
            )
        )
    with psycopg.connect(servers.database_url) as connection:
        # storage's tables, as its first start makes them, so rows can be counted from zero.
        apply_migrations(connection, "merchstore.storage", "storage")
    run = [0]
    rates = interleaved(
        {
            "one": partial(storage_rate, servers, 1, arguments.events, run),
            "two": partial(storage_rate, servers, 2, arguments.events, run),
        }
    )
    one_rate, two_rate = statistics.median(rates["one"]), statistics.median(rates["two"])
    print(
        f"{'storage, 3 partitions':<30} one consumer {one_rate:>7,.0f} events/s |"
        f" two {two_rate:>7,.0f} events/s | {two_rate / one_rate:.2f}x"
    )
    goals.append(
        Goal.from_turns(
            "storage: two consumers on 3 partitions vs one",
            rates["two"],
            "events/s",
            "one consumer",
            rates["one"],
            "report",
        )
    )
    save(
        "scale",
        goals,
        [],
        [
            "On 2 cores a second replica or consumer competes with the first (and with wrk,"
            " db-service, PostgreSQL and the broker) for the same CPU, so little is gained."
            " On more cores each adds its own core until db-service, PostgreSQL or the broker"
            " is the limit; storage can use at most as many consumers as `events` has"
            " partitions (3).",
            "Storage's rate includes its start-up and joining the consumer group (about half"
            " of kafka.session_timeout_ms on the embedded broker), the same for both.",
        ],
    )


if __name__ == "__main__":
    main()
