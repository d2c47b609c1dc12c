"""Real NGINX sends a request to another replica only when no replica may have acted on it.

The replicas here are stand-ins that take a request and die before answering, as a store-api
that committed a cancel and crashed would: what NGINX sends where is counted.
"""

from __future__ import annotations

import shutil
import socketserver
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from merchstore.runtime.load_balancer import local_nginx_config
from merchstore.settings import load_settings
from tests.support.processes import free_port, stop_process, wait_until

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class ActsThenDies(socketserver.BaseRequestHandler):
    """Reads a whole request, counts it, and closes the connection without an answer."""

    received: Counter[str]
    lock = threading.Lock()

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        request_line = head.split("\r\n", 1)[0]
        method, path = request_line.split(" ")[:2]
        if method == "GET" and path == "/health":
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
            return
        with self.lock:
            self.received[f"{method} {path}"] += 1


@pytest.fixture
def replicas_that_die(tmp_path: Path) -> Iterator[tuple[str, Counter[str]]]:
    received: Counter[str] = Counter()
    handler = type("Handler", (ActsThenDies,), {"received": received})
    servers = [socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) for _ in range(2)]
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    listen = free_port()
    run_dir = tmp_path / "nginx"
    config = tmp_path / "nginx.conf"
    settings = load_settings(store_api={"port": listen})
    ports = [server.server_address[1] for server in servers]
    config.write_text(local_nginx_config(settings, ports, run_dir))
    nginx = subprocess.Popen([NGINX, "-c", str(config), "-g", "daemon off;"], text=True)
    try:
        url = f"http://127.0.0.1:{listen}"
        wait_until(lambda: _answers(url), 30, "NGINX to listen")
        yield url, received
    finally:
        stop_process(nginx, 10)
        for server in servers:
            server.shutdown()
            server.server_close()


def _answers(url: str) -> bool:
    try:
        httpx.get(f"{url}/health", timeout=2)
    except httpx.HTTPError:
        return False
    return True


def test_a_cancel_a_replica_may_have_committed_is_never_sent_to_another(
    replicas_that_die: tuple[str, Counter[str]],
) -> None:
    url, received = replicas_that_die
    answer = httpx.delete(f"{url}/orders/7", timeout=30)
    assert answer.status_code == 502
    assert received["DELETE /orders/7"] == 1, received


def test_an_order_is_never_sent_twice(replicas_that_die: tuple[str, Counter[str]]) -> None:
    url, received = replicas_that_die
    assert httpx.post(f"{url}/orders", json={"product_id": 1}, timeout=30).status_code == 502
    assert received["POST /orders"] == 1, received


def test_a_read_is_tried_on_the_next_replica(replicas_that_die: tuple[str, Counter[str]]) -> None:
    url, received = replicas_that_die
    assert httpx.get(f"{url}/products", timeout=30).status_code == 502
    assert received["GET /products"] == 2, received


def test_the_receivers_writing_gets_are_never_sent_again(tmp_path: Path) -> None:
    config = local_nginx_config(load_settings(), [8001, 8002], tmp_path)
    receiver = config.split("location /receiver/ {", 1)[1].split("}", 1)[0]
    assert "proxy_next_upstream off;" in receiver
