"""The trace backend of `up --tracing`: its pinned jar, its command, what the services get."""

from __future__ import annotations

from pathlib import Path

import pytest

from merchstore.common.config.sections import TracingSettings
from merchstore.runtime.maven import locked_jars
from merchstore.runtime.trace_backend import (
    LOCK_FILE,
    ZIPKIN_VERSION,
    service_environment,
    trace_url,
    ui_url,
    zipkin_command,
)


def test_the_lock_pins_zipkins_exec_jar_with_its_checksum() -> None:
    [jar] = locked_jars(LOCK_FILE)
    assert (jar.group, jar.artifact, jar.version, jar.classifier) == (
        "io.zipkin",
        "zipkin-server",
        ZIPKIN_VERSION,
        "exec",
    )
    assert len(jar.sha256) == 64
    assert jar.repository_path == (
        f"io/zipkin/zipkin-server/{ZIPKIN_VERSION}/zipkin-server-{ZIPKIN_VERSION}-exec.jar"
    )


def test_zipkin_listens_where_the_settings_say_keeping_spans_in_memory() -> None:
    settings = TracingSettings(backend_host="127.0.0.1", backend_port=19411)
    command = zipkin_command("/usr/bin/java", Path("/cache/zipkin.jar"), settings)
    assert command[0] == "/usr/bin/java" and "/cache/zipkin.jar" in command
    assert "--armeria.ports[0].port=19411" in command
    assert "--armeria.ports[0].ip=127.0.0.1" in command
    assert ui_url(settings) == "http://127.0.0.1:19411/zipkin/"
    assert (
        trace_url(ui_url(settings), "ab" * 16)
        == f"http://127.0.0.1:19411/zipkin/traces/{'ab' * 16}"
    )


def test_services_send_zipkin_their_spans_at_the_chosen_ratio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    environment = service_environment(TracingSettings(sample_ratio=0.25))
    assert environment["OTEL_TRACES_EXPORTER"] == "zipkin"
    assert environment["OTEL_EXPORTER_ZIPKIN_ENDPOINT"] == "http://127.0.0.1:9411/api/v2/spans"
    assert environment["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert environment["OTEL_TRACES_SAMPLER_ARG"] == "0.25"
    assert environment["MERCHSTORE_TRACING__UI_URL"] == "http://127.0.0.1:9411/zipkin/"


def test_a_sampler_the_user_chose_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_always_on")
    environment = service_environment(TracingSettings())
    assert "OTEL_TRACES_SAMPLER" not in environment
    assert "OTEL_TRACES_SAMPLER_ARG" not in environment
