"""Real NGINX over two real store-api replicas: spreading, and a replica killed under load."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from merchstore.runtime.load_balancer import local_nginx_config
from merchstore.settings import load_settings
from tests.conftest import ServiceLauncher
from tests.support.load import SteadyLoad
from tests.support.processes import ServiceProcess, free_port, service_ready, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def balanced(
    services: ServiceLauncher, tmp_path: Path
) -> Iterator[tuple[str, list[ServiceProcess]]]:
    services.start("db-service")
    replicas: list[ServiceProcess] = []
    nginx: subprocess.Popen[bytes] | None = None
    try:
        for index in (1, 2):
            port = free_port()
            replica = ServiceProcess(
                "store-api",
                {
                    **services.env,
                    "MERCHSTORE_STORE_API__PORT": str(port),
                    "MERCHSTORE_STORE_API__REPLICA_NAME": f"store-api-{index}",
                },
                port,
                tmp_path / f"store-api-{index}.out",
            )
            replicas.append(replica)
            replica.start()
        listen = free_port()
        settings = load_settings(store_api={"port": listen})
        config = tmp_path / "nginx.conf"
        config.write_text(
            local_nginx_config(settings, [r.port for r in replicas], tmp_path / "nginx")
        )
        nginx = subprocess.Popen([NGINX, "-c", str(config), "-g", "daemon off;"])
        url = f"http://127.0.0.1:{listen}"
        wait_until(lambda: service_ready(url), 30, "NGINX in front of the replicas")
        yield url, replicas
    finally:
        # Stopped whatever happened above: a failed start must not leave processes behind.
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        for replica in replicas:
            replica.stop()


def served_by(url: str, count: int) -> Counter[str]:
    with httpx.Client(base_url=url, timeout=10) as client:
        return Counter(client.get("/products").headers["X-Served-By"] for _ in range(count))


def test_requests_are_spread_over_both_replicas(balanced: tuple[str, list[ServiceProcess]]) -> None:
    url, _ = balanced
    spread = served_by(url, 40)
    assert set(spread) == {"store-api-1", "store-api-2"}
    assert min(spread.values()) >= 10
    answer = httpx.get(f"{url}/products", headers={"X-Request-ID": "trace-123"})
    assert answer.headers["X-Request-ID"] == "trace-123"


CUT_SHORT = "peer closed connection without sending complete message body"
"""What a client sees of an answer its replica was writing when it died."""


def test_a_replica_killed_under_load_loses_only_the_answer_it_was_writing(
    balanced: tuple[str, list[ServiceProcess]],
) -> None:
    """NGINX sends every request the dead replica did not start answering to the other one.

    An answer the replica was in the middle of writing (headers sent, body not yet) is cut
    short, and nothing can retry it: at most one per client, and never any other error.
    """
    url, replicas = balanced
    with SteadyLoad(url, "/products", clients=4) as load:
        wait_until(lambda: load.answered >= 50, 30, "both replicas answering under load")
        replicas[0].kill()
        answered_before_the_kill = load.answered
        wait_until(
            lambda: load.answered >= answered_before_the_kill + 500,
            30,
            "500 more answers with one replica dead",
        )
    cut_short = [s for s in load.statuses if isinstance(s, str) and CUT_SHORT in s]
    others = [s for s in load.statuses if s != 200 and s not in cut_short]
    assert not others and len(cut_short) <= 4, load.outcomes()
    assert set(served_by(url, 10)) == {"store-api-2"}

    replicas[0].start()
    wait_until(lambda: "store-api-1" in served_by(url, 6), 30, "traffic back on store-api-1")


def test_nginx_slows_login_guessing_with_a_json_429(
    balanced: tuple[str, list[ServiceProcess]],
) -> None:
    url, _ = balanced

    async def guesses() -> list[httpx.Response]:
        # All at once: one after the other, on a loaded machine each login (a password hash)
        # can take longer than NGINX takes to grant the next one (one every 2 s).
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        "/users/login", json={"username": f"guess{i}", "password": "12345678"}
                    )
                    for i in range(40)
                )
            )

    answers = asyncio.run(guesses())
    products = httpx.get(f"{url}/products", timeout=10)
    statuses = Counter(answer.status_code for answer in answers)
    # What passes NGINX store-api answers: 401, or 503 "retry" beyond its password-hash queue.
    assert set(statuses) <= {401, 429, 503}, statuses
    assert statuses[401] + statuses[503] >= 20, "a burst of 20 passes"
    limited = [answer for answer in answers if answer.status_code == 429]
    assert "slow down" in limited[0].json()["detail"]
    assert limited[0].headers["Retry-After"]
    assert products.status_code == 200, "only the login route is limited"
