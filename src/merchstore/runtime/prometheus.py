"""Prometheus for merchstore: what it scrapes, for Docker Compose and for ``merchstore up``.

Every HTTP service serves ``/metrics`` on its own port; each gRPC service on its port plus
``METRICS_PORT_OFFSET``. One scrape job per service, named after it, so ``job`` says which
service a series came from and ``instance`` which replica.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import yaml

from merchstore.common.metrics import METRICS_PORT_OFFSET
from merchstore.services import SERVICES, ServiceSpec
from merchstore.settings import Settings, load_settings

HEALTH_PATH = "/-/ready"
"""Where Prometheus answers 200 once it is ready to scrape and serve queries."""


def metrics_port(spec: ServiceSpec, port: int) -> int:
    """The port a service serves /metrics on, given the port it serves its API on."""
    return port if spec.protocol == "http" else port + METRICS_PORT_OFFSET


def _config(scrape_interval_s: float, jobs: Iterable[Mapping[str, object]]) -> str:
    interval = f"{scrape_interval_s:g}s"
    document = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": list(jobs),
    }
    header = "# Written by merchstore (merchstore.runtime.prometheus); do not edit by hand.\n"
    return header + yaml.safe_dump(document, sort_keys=False)


def local_prometheus_config(settings: Settings, store_api_ports: Sequence[int]) -> str:
    """For `merchstore up`: every service at its local address (each store-api replica)."""
    jobs = []
    for spec in SERVICES:
        endpoint = spec.endpoint(settings)
        ports = store_api_ports if spec.name == "store-api" else [endpoint.port]
        targets = [f"{endpoint.host}:{metrics_port(spec, port)}" for port in ports]
        jobs.append({"job_name": spec.name, "static_configs": [{"targets": targets}]})
    return _config(settings.prometheus.scrape_interval_s, jobs)


def compose_prometheus_config() -> str:
    """What ``deploy/prometheus/prometheus.yml`` holds: services found by their Compose names.

    Docker's DNS answers a service's name with the address of every replica, so DNS discovery
    scrapes each replica of a scaled service on its own.
    """
    defaults = load_settings()
    jobs = [
        {
            "job_name": spec.name,
            "dns_sd_configs": [
                {
                    "names": [spec.name],
                    "type": "A",
                    "port": metrics_port(spec, spec.endpoint(defaults).port),
                }
            ],
        }
        for spec in SERVICES
    ]
    return _config(defaults.prometheus.scrape_interval_s, jobs)
