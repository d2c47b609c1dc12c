"""The trace backend of `merchstore up --tracing`: Zipkin's server, pinned, checked and cached.

Zipkin keeps the spans in memory (a bounded number), serves its UI at ``/zipkin/`` and its query
API at ``/api/v2``; the services send it their spans with OpenTelemetry's Zipkin exporter
(``OTEL_TRACES_EXPORTER=zipkin``). It runs on the Java that `--broker kafka` needs too.
"""

from __future__ import annotations

import os
from pathlib import Path

from merchstore.common.config.sections import TracingSettings
from merchstore.runtime import maven

LOCK_FILE = Path(__file__).with_name("zipkin.lock")
ZIPKIN_VERSION = "3.6.1"
"""The Zipkin release that ``zipkin.lock`` pins."""
CACHE_VARIABLE = "MERCHSTORE_ZIPKIN_CACHE"
"""Set: keep the jar in this folder instead of ~/.cache/merchstore/zipkin-<version>."""
HEALTH_PATH = "/health"
MAX_SPANS = 50_000
"""How many spans Zipkin keeps in memory; the oldest traces go first (its eviction sorts what
it keeps, so a larger bound costs it CPU on every batch once full)."""
JVM_OPTIONS = ("-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
# A small, quickly started JVM: Zipkin serves one developer's traces here, not a fleet's.


def cache_dir() -> Path:
    """Where the jar is kept."""
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "merchstore" / f"zipkin-{ZIPKIN_VERSION}"


def fetch_zipkin(cache: Path | None = None, repository: str | None = None) -> Path:
    """Zipkin's exec jar in the cache, downloaded and checked first if missing or altered."""
    (jar,) = maven.fetch_locked(LOCK_FILE, cache or cache_dir(), "Zipkin", repository)
    return jar


def zipkin_command(java: str, jar: Path, settings: TracingSettings) -> list[str]:
    """The command that runs Zipkin on the settings' address, its spans in memory."""
    port = f"--armeria.ports[0].port={settings.backend_port}"
    return [
        java,
        *JVM_OPTIONS,
        "-jar",
        str(jar),
        port,
        f"--armeria.ports[0].ip={settings.backend_host}",
        "--armeria.ports[0].protocols=http",
        f"--zipkin.storage.mem.max-spans={MAX_SPANS}",
    ]


def base_url(settings: TracingSettings) -> str:
    """Where Zipkin answers."""
    return f"http://{settings.backend_host}:{settings.backend_port}"


def ui_url(settings: TracingSettings) -> str:
    """Zipkin's web UI."""
    return f"{base_url(settings)}/zipkin/"


def service_environment(settings: TracingSettings) -> dict[str, str]:
    """What points a service's spans at Zipkin, sampled at ``sample_ratio`` unless chosen.

    A sampler the user set in ``OTEL_TRACES_SAMPLER`` is theirs: it is kept as it is.
    """
    environment = {
        "OTEL_TRACES_EXPORTER": "zipkin",
        "OTEL_EXPORTER_ZIPKIN_ENDPOINT": f"{base_url(settings)}/api/v2/spans",
        "MERCHSTORE_TRACING__UI_URL": ui_url(settings),
    }
    if not os.environ.get("OTEL_TRACES_SAMPLER", "").strip():
        environment["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        environment["OTEL_TRACES_SAMPLER_ARG"] = str(settings.sample_ratio)
    return environment


def trace_url(ui: str, trace_id: str) -> str:
    """The page of one trace in Zipkin's UI."""
    return f"{ui.rstrip('/')}/traces/{trace_id}"
