"""The NGINX load balancer: its configuration for Docker Compose and for local replicas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from merchstore.settings import Settings

COMPOSE_FILES = {
    "pid_file": "/tmp/nginx.pid",
    "error_log": "/dev/stderr",
    "access_log": "/dev/stdout",
    "temp_dir": "/tmp",
}


@dataclass(frozen=True)
class NginxLayout:
    """Where NGINX listens and where it sends each path."""

    listen_port: int
    store_api_servers: Sequence[str]
    receiver: str
    dashboard: str
    event_logger: str
    # A DNS server to ask again for the store-api replicas (Docker's, in Compose), so that
    # `docker compose up --scale store-api=N` is followed without restarting NGINX.
    resolver: str | None = None


DOCKER_DNS = "127.0.0.11"
"""Docker's embedded DNS server, inside every container of a user-defined network."""


def render_nginx_config(layout: NginxLayout, files: dict[str, str]) -> str:
    """The NGINX configuration for ``layout``, from the one template."""
    template = Template((resources.files("merchstore.runtime") / "nginx.conf.template").read_text())
    resolver = (
        f"resolver {layout.resolver} valid=5s ipv6=off;\n    resolver_timeout 2s;"
        if layout.resolver
        else "# Fixed local addresses: nothing to resolve."
    )
    servers = {
        "store_api": layout.store_api_servers,
        "receiver": [layout.receiver],
        "dashboard": [layout.dashboard],
        "event_logger": [layout.event_logger],
    }
    upstreams = "\n".join(
        _upstream(name, each, resolve=layout.resolver is not None) for name, each in servers.items()
    )
    return template.substitute(
        files, listen_port=layout.listen_port, resolver=resolver, upstreams=upstreams
    )


def _upstream(name: str, servers: Sequence[str], resolve: bool) -> str:
    # `resolve` (NGINX 1.27.3 and later) asks the resolver again while running, every `valid`
    # seconds; without a resolver the addresses are fixed (local replicas).
    suffix = " resolve" if resolve else ""
    lines = [f"    upstream {name} {{", f"        zone {name} 64k;"]
    lines += [f"        server {server}{suffix} max_fails=1 fail_timeout=2s;" for server in servers]
    lines += ["        keepalive 32;", "    }"]
    return "\n".join(lines)


def compose_nginx_config() -> str:
    """The configuration ``deploy/nginx/nginx.conf`` holds: services by their Compose names.

    With ``deploy.replicas``, Docker's DNS answers ``store-api`` with every replica's address
    and NGINX balances over all of them, asking again every 5 s as replicas come and go.
    """
    layout = NginxLayout(
        listen_port=80,
        store_api_servers=["store-api:8000"],
        receiver="receiver:8080",
        dashboard="dashboard:8130",
        event_logger="event-logger:8120",
        resolver=DOCKER_DNS,
    )
    return render_nginx_config(layout, COMPOSE_FILES)


def local_nginx_config(settings: Settings, replica_ports: Sequence[int], run_dir: Path) -> str:
    """The configuration for `merchstore up`: local replicas, files under ``run_dir``."""

    def address(host: str, port: int) -> str:
        return f"{host}:{port}"

    host = settings.store_api.host
    run_dir.mkdir(parents=True, exist_ok=True)
    layout = NginxLayout(
        listen_port=settings.store_api.port,
        store_api_servers=[address(host, port) for port in replica_ports],
        receiver=address(settings.receiver.host, settings.receiver.port),
        dashboard=address(settings.dashboard.host, settings.dashboard.port),
        event_logger=address(settings.event_logger.host, settings.event_logger.port),
    )
    files = {
        "pid_file": str(run_dir / "nginx.pid"),
        "error_log": str(run_dir / "nginx-error.log"),
        "access_log": str(run_dir / "nginx-access.log"),
        "temp_dir": str(run_dir),
    }
    return render_nginx_config(layout, files)
