"""The merchstore image, built by a real Docker engine (stand-in bases where none can be pulled)."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.support.docker_engine import STANDIN_LOCKS, base_images, require_engine, source_copy

IMAGE = "merchstore:test"
# On a new machine the first build waits for its base images' stand-ins (debootstrap, Python,
# Node.js), which the Compose test may be building too: minutes, not the suite's usual 300 s.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]


def build(client: str, context: Path, bases: dict[str, str]) -> tuple[float, str]:
    """Build ``context`` as `IMAGE` with these base images; the seconds it took, its output."""
    arguments = [
        part for name, image in bases.items() for part in ("--build-arg", f"{name}={image}")
    ]
    started = time.monotonic()
    result = subprocess.run(
        [client, "build", *arguments, "-t", IMAGE, str(context)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return time.monotonic() - started, result.stdout


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str], Path, float]:
    """The image built from a copy of the sources: client, bases, context, build seconds."""
    client = require_engine()
    bases = base_images(STANDIN_LOCKS)
    context = source_copy(tmp_path_factory.mktemp("image-context"))
    return client, bases, context, build(client, context, bases)[0]


def inspect(client: str, template: str) -> str:
    result = subprocess.run(
        [client, "image", "inspect", IMAGE, "--format", template],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_image_runs_as_its_own_user_with_a_healthcheck(
    image: tuple[str, dict[str, str], Path, float],
) -> None:
    client, bases, _, seconds = image
    assert inspect(client, "{{.Config.User}}") == "10001"
    assert inspect(client, "{{json .Config.Healthcheck.Test}}") == '["CMD","merchstore","health"]'
    who = subprocess.run(
        [client, "run", "--rm", "--entrypoint", "id", IMAGE, "-u"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert who.stdout.strip() == "10001", who.stderr
    size_mb = int(inspect(client, "{{.Size}}")) / 1e6
    print(f"image built in {seconds:.0f} s on {bases}; {size_mb:.0f} MB")


def test_a_bad_setting_stops_a_container_with_a_clear_message(
    image: tuple[str, dict[str, str], Path, float],
) -> None:
    client = image[0]
    result = subprocess.run(
        [
            client,
            "run",
            "--rm",
            "-e",
            "MERCHSTORE_KAFKA__REPLICATION_FACTOR=zero",
            IMAGE,
            "serve",
            "receiver",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    said = result.stdout + result.stderr
    assert result.returncode == 2, said
    assert "kafka.replication_factor" in said and "MERCHSTORE_KAFKA__REPLICATION_FACTOR" in said
    assert "Traceback" not in said and len(said.splitlines()) <= 3, said


def test_a_source_edit_rebuilds_in_seconds(
    image: tuple[str, dict[str, str], Path, float],
) -> None:
    client, bases, context, first = image
    edited = context / "src" / "merchstore" / "cli.py"
    # Different each run, so that no layer of an earlier run's edit is found in the cache.
    edited.write_text(edited.read_text() + f"\n# edited by the rebuild test {uuid.uuid4()}\n")
    again, output = build(client, context, bases)
    print(f"first build {first:.0f} s, after a source edit {again:.0f} s")
    # The dependencies and the dashboard's assets come from cached layers: only the layers of
    # the sources and what follows them are made again.
    steps = output.split("\nStep ")
    reused = [step.splitlines()[0] for step in steps if "Using cache" in step]
    remade = [step.splitlines()[0] for step in steps[1:] if "Using cache" not in step]
    assert any("requirements.txt" in step for step in reused), output[-3000:]
    assert any("npm ci" in step for step in reused), output[-3000:]
    assert any("COPY src" in step for step in remade), output[-3000:]
