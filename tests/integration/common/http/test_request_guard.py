"""The shared edge check, on every HTTP service's application: 413, 422, never a 500."""

from __future__ import annotations

import socket
import time

from merchstore.common.http.openapi import openapi_document  # noqa: F401 - documents the apps
from tests.conftest import ServiceLauncher


def _read_response(connection: socket.socket) -> bytes:
    """One whole HTTP/1.1 response (headers and a Content-Length body), or b"" when closed."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(4096)
    return head + b"\r\n\r\n" + body


def test_idle_keep_alive_connection_is_reused_after_8_s(services: ServiceLauncher) -> None:
    event_logger = services.start("event-logger")
    request = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{event_logger.port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", event_logger.port), timeout=10) as connection:
        connection.sendall(request)
        assert _read_response(connection).startswith(b"HTTP/1.1 200")
        time.sleep(8)  # the idle time under test, not a wait for something
        connection.sendall(request)
        assert _read_response(connection).startswith(b"HTTP/1.1 200"), "closed while idle"
