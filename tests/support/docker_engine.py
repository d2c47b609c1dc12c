"""A Docker engine for the suite, and images where no registry can be reached.

The controlling pytest process starts ``dockerd`` when no engine answers (as root, where
Debian's ``docker.io`` is installed) and stops it at the end; an engine that already answered
is used and left alone. Tests wait for it with `require_engine`, which fails (never skips)
with the reason when there is none.

Where an image the Dockerfile or the compose file names cannot be pulled, `base_images` builds
a stand-in: a Debian bookworm root made by ``debootstrap`` from Debian's packages, and on it
Python or Node.js from Debian (``tests/support/standins``). The committed files keep the
official images; a build only passes other ones as build arguments.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from merchstore.runtime.embedded import file_lock

STANDINS = Path(__file__).parent / "standins"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_RELEASE = "bookworm"
BASE_STANDIN = "merchstore-standin/debian:bookworm"
OFFICIAL_IMAGES = {
    "PYTHON_IMAGE": ("python:3.11-slim-bookworm", "python.Dockerfile"),
    "NODE_IMAGE": ("node:20-bookworm-slim", "node.Dockerfile"),
}
"""The Dockerfile's base-image arguments: the official image, and the stand-in's Dockerfile."""

ENGINE_VARIABLE = "MERCHSTORE_TEST_DOCKER"
"""Where the controlling process tells workers why the engine could not start, if it did not."""
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def docker() -> str:
    """The docker client; fails the test with what to install when there is none."""
    found = shutil.which("docker")
    if not found:
        pytest.fail("no docker client: install Debian's docker.io (make test does, as root)")
    return found


def engine_answers(timeout_s: float = 10.0) -> bool:
    """Whether a Docker engine answers the client."""
    client = shutil.which("docker")
    if not client:
        return False
    try:
        return (
            subprocess.run([client, "info"], capture_output=True, timeout=timeout_s).returncode == 0
        )
    except subprocess.TimeoutExpired:
        return False


class SuiteDockerEngine:
    """``dockerd`` started by the suite when no engine answers; stopped when the suite ends."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start dockerd unless an engine answers; write why not to ``error`` if it cannot."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if engine_answers():
            return
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        if not Path(dockerd).exists():
            self._cannot("no Docker engine and no dockerd: install Debian's docker.io")
            return
        if os.geteuid() != 0:
            self._cannot("no Docker engine answers: start one (sudo dockerd &) and run again")
            return
        with (self.directory / "dockerd.log").open("ab") as log:
            self.process = subprocess.Popen(
                [dockerd, "--pidfile", str(self.directory / "dockerd.pid")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _cannot(self, why: str) -> None:
        (self.directory / "error").write_text(why)

    def stop(self) -> None:
        """Stop the dockerd started here (it stops its containers first)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def require_engine(timeout_s: float = 90.0) -> str:
    """The docker client, once an engine answers; fails the test with the reason otherwise."""
    client = docker()
    directory = os.environ.get(ENGINE_VARIABLE)
    deadline = time.monotonic() + timeout_s
    while not engine_answers():
        if directory and (Path(directory) / "error").exists():
            pytest.fail((Path(directory) / "error").read_text())
        if time.monotonic() > deadline:
            log = Path(directory) / "dockerd.log" if directory else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            pytest.fail(f"no Docker engine answered within {timeout_s:.0f} s\n{tail}")
        time.sleep(0.5)
    return client


def image_present(client: str, image: str) -> bool:
    """Whether ``image`` is in the engine's store."""
    inspected = subprocess.run([client, "image", "inspect", image], capture_output=True, timeout=60)
    return inspected.returncode == 0


def pulled(client: str, image: str) -> bool:
    """Whether ``image`` is here or could be pulled (no registry: fails at once)."""
    if image_present(client, image):
        return True
    return subprocess.run([client, "pull", image], capture_output=True, timeout=600).returncode == 0


def _run(command: list[str], what: str, timeout_s: float = 1200) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
        pytest.fail(f"{what} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")


def base_standin(client: str) -> str:
    """The Debian base of the stand-ins, made by debootstrap once per engine."""
    if image_present(client, BASE_STANDIN):
        return BASE_STANDIN
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(debootstrap).exists():
        pytest.fail("no debootstrap to build a base image without a registry: install it")
    with tempfile.TemporaryDirectory(prefix="merchstore-standin-") as scratch:
        root = Path(scratch) / "root"
        _run(
            [debootstrap, "--variant=minbase", DEBIAN_RELEASE, str(root), DEBIAN_MIRROR],
            "debootstrap",
        )
        # The packages debootstrap downloaded stay in the root: not in the image.
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for leftover in (root / cache).glob("*"):
                if leftover.is_file():
                    leftover.unlink()
        archive = Path(scratch) / "root.tar"
        _run(["tar", "-C", str(root), "-cf", str(archive), "."], "packing the Debian root")
        _run([client, "import", str(archive), BASE_STANDIN], "docker import")
    return BASE_STANDIN


def base_images(lock_dir: Path) -> dict[str, str]:
    """Build arguments naming the Dockerfile's base images.

    The official ones where they can be had, else stand-ins built here (once per engine;
    workers take turns).
    """
    client = require_engine()
    lock_dir.mkdir(parents=True, exist_ok=True)
    arguments = {}
    with file_lock(lock_dir / "standins.lock"):
        for argument, (official, dockerfile) in OFFICIAL_IMAGES.items():
            if pulled(client, official):
                arguments[argument] = official
                continue
            standin = f"merchstore-standin/{official}"
            if not image_present(client, standin):
                base = base_standin(client)
                with tempfile.TemporaryDirectory(prefix="merchstore-standin-") as context:
                    shutil.copy(HOST_CA_BUNDLE, Path(context) / "host-ca-certificates.crt")
                    _run(
                        [
                            client,
                            "build",
                            "--build-arg",
                            f"BASE={base}",
                            "-f",
                            str(STANDINS / dockerfile),
                            "-t",
                            standin,
                            context,
                        ],
                        f"building the stand-in for {official}",
                    )
            arguments[argument] = standin
    return arguments
