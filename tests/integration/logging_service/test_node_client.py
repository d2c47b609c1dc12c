"""Another language: a Node.js client streams to logging-service with the same .proto."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from merchstore.settings import Settings
from tests.conftest import ServiceLauncher
from tests.support.kafka import read_topic
from tests.support.paths import REPOSITORY

CLIENT = Path(__file__).parent / "node_client"
PROTO = REPOSITORY / "protos" / "merchstore" / "protos" / "logging.proto"


def test_node_client_streams_lines_to_log_channel(
    services: ServiceLauncher, settings: Settings, tmp_path: Path
) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node.js and npm are needed (the machine image has them)"
    work = tmp_path / "node-client"
    shutil.copytree(CLIENT, work)
    installed = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    service = services.start("logging-service")
    result = subprocess.run(
        [node, "stream_logs.js", str(PROTO), f"127.0.0.1:{service.port}", "500"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["received"] == 500 and summary["accepted"] == 500
    messages = read_topic(settings.bootstrap_servers, settings.topics.log_channel, 500)
    bodies = [json.loads(m.value() or b"") for m in messages]
    assert [b["message"] for b in bodies] == [f"node line {i}" for i in range(500)]
    assert {b["service_name"] for b in bodies} == {"node-client"}
