"""A Docker engine for the suite, and images where no registry can be reached.

The controlling pytest process starts ``dockerd`` when no engine answers (as root, where
Debian's ``docker.io`` is installed) and stops it at the end; an engine that already answered
is used and left alone. Tests wait for it with `require_engine`, which fails (never skips)
with the reason when there is none.

Where an image the Dockerfile or the compose file names cannot be pulled, a stand-in is built
(``tests/support/standins``): a Debian root made by ``debootstrap`` from Debian's packages, and
on it Python, Node.js, PostgreSQL, Prometheus or NGINX from Debian, or Apache Kafka from the
suite's pinned jars, each with the entry point and settings its official image documents.
The committed files keep the official images: `base_images` gives the Dockerfile's build
arguments, `compose_override` a Compose file that changes nothing but ``image:`` and them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from merchstore.runtime.apache_kafka import LOCK_FILE, fetch_jars
from merchstore.runtime.embedded import file_lock
from merchstore.runtime.trace_backend import LOCK_FILE as ZIPKIN_LOCK_FILE
from merchstore.runtime.trace_backend import fetch_zipkin
from tests.support.paths import REPOSITORY

STANDINS = Path(__file__).parent / "standins"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_RELEASE = "bookworm"
UNSTABLE_RELEASE = "sid"
"""Debian's unstable release, for an NGINX new enough for the compose file's ``resolve``."""
OFFICIAL_IMAGES = {
    "PYTHON_IMAGE": ("python:3.11-slim-bookworm", "python.Dockerfile"),
    "NODE_IMAGE": ("node:20-bookworm-slim", "node.Dockerfile"),
}
"""The Dockerfile's base-image arguments: the official image, and the stand-in's Dockerfile."""


@dataclass(frozen=True)
class StandIn:
    """How to build a stand-in for an official image: its Dockerfile and what goes with it."""

    dockerfile: str
    release: str = DEBIAN_RELEASE
    files: tuple[str, ...] = ()
    kafka_jars: bool = False
    zipkin_jar: bool = False


COMPOSE_STANDINS = {
    "apache/kafka": StandIn(
        "kafka.Dockerfile",
        files=("kafka-run.sh", "kafka-tool.sh", "log4j2.properties"),
        kafka_jars=True,
    ),
    "postgres": StandIn("postgres.Dockerfile", files=("postgres-entrypoint.sh",)),
    "nginx": StandIn("nginx.Dockerfile", release=UNSTABLE_RELEASE),
    "prom/prometheus": StandIn("prometheus.Dockerfile"),
    "openzipkin/zipkin": StandIn("zipkin.Dockerfile", zipkin_jar=True),
}
"""The compose file's images by repository (any tag), and their stand-ins."""

ENGINE_VARIABLE = "MERCHSTORE_TEST_DOCKER"
"""Where the controlling process tells workers why the engine could not start, if it did not."""
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
STANDIN_LOCKS = Path(tempfile.gettempdir()) / "merchstore-standins"
"""Where builds of the stand-ins take turns: one engine per machine, so one place for all."""


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
        self._preparing: threading.Thread | None = None

    def prepare_standins(self, compose_file: Path) -> None:
        """Build the stand-ins in the background while the tests collect and start.

        On a new machine they take minutes; the tests that need one wait only for it (a lock
        per image), and report a failed build themselves when they try it again.
        """

        def build() -> None:
            try:
                compose_override(compose_file, STANDIN_LOCKS)
            except BaseException as error:
                (self.directory / "standins.error").write_text(repr(error))

        self._preparing = threading.Thread(target=build, name="standins", daemon=True)
        self._preparing.start()

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
        if self._preparing is not None:
            self._preparing.join(timeout=900)
            self._preparing = None
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


def _one_at_a_time(lock_dir: Path, image: str) -> AbstractContextManager[object]:
    """A lock per image: workers wait for the one they need, not for every other build."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    return file_lock(lock_dir / (image.replace("/", "_").replace(":", "_") + ".lock"))


def base_standin(client: str, lock_dir: Path, release: str = DEBIAN_RELEASE) -> str:
    """The Debian base of the stand-ins, made by debootstrap once per engine and release."""
    image = f"merchstore-standin/debian:{release}"
    with _one_at_a_time(lock_dir, image):
        if not image_present(client, image):
            _debootstrap_image(client, release, image)
    return image


def _debootstrap_image(client: str, release: str, image: str) -> None:
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(debootstrap).exists():
        pytest.fail("no debootstrap to build a base image without a registry: install it")
    with tempfile.TemporaryDirectory(prefix="merchstore-standin-") as scratch:
        root = Path(scratch) / "root"
        _run(
            [debootstrap, "--variant=minbase", release, str(root), DEBIAN_MIRROR],
            f"debootstrap {release}",
        )
        # The packages debootstrap downloaded stay in the root: not in the image.
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for leftover in (root / cache).glob("*"):
                if leftover.is_file():
                    leftover.unlink()
        archive = Path(scratch) / "root.tar"
        _run(["tar", "-C", str(root), "-cf", str(archive), "."], "packing the Debian root")
        _run([client, "import", str(archive), image], "docker import")


def _digest_of(standin: StandIn) -> str:
    """A short digest of what a stand-in is built from, so that an edit builds it again."""
    digest = hashlib.sha256()
    for name in (standin.dockerfile, *standin.files):
        digest.update((STANDINS / name).read_bytes())
    if standin.kafka_jars:
        digest.update(LOCK_FILE.read_bytes())
    if standin.zipkin_jar:
        digest.update(ZIPKIN_LOCK_FILE.read_bytes())
    return digest.hexdigest()[:12]


def build_standin(client: str, official: str, standin: StandIn, lock_dir: Path) -> str:
    """The stand-in image for ``official``, built unless the engine has this version of it."""
    image = f"merchstore-standin/{official}-{_digest_of(standin)}"
    base = base_standin(client, lock_dir, standin.release)
    with _one_at_a_time(lock_dir, image):
        if not image_present(client, image):
            _build(client, official, standin, base, image)
    return image


def _build(client: str, official: str, standin: StandIn, base: str, image: str) -> None:
    with tempfile.TemporaryDirectory(prefix="merchstore-standin-") as scratch:
        context = Path(scratch)
        # This machine's certificate authorities, so that pip or npm inside a build get
        # through a TLS-intercepting proxy.
        shutil.copy(HOST_CA_BUNDLE, context / "host-ca-certificates.crt")
        for name in standin.files:
            shutil.copy2(STANDINS / name, context / name)
        if standin.kafka_jars:
            libs = context / "libs"
            libs.mkdir()
            for jar in fetch_jars():
                shutil.copy(jar, libs / jar.name)
        if standin.zipkin_jar:
            shutil.copy(fetch_zipkin(), context / "zipkin.jar")
        _run(
            [
                client,
                "build",
                "--build-arg",
                f"BASE={base}",
                "-f",
                str(STANDINS / standin.dockerfile),
                "-t",
                image,
                str(context),
            ],
            f"building the stand-in for {official}",
        )


def base_images(lock_dir: Path) -> dict[str, str]:
    """Build arguments naming the Dockerfile's base images.

    The official ones where they can be had, else stand-ins built here (once per engine;
    workers needing the same image take turns).
    """
    client = require_engine()
    arguments = {}
    for argument, (official, dockerfile) in OFFICIAL_IMAGES.items():
        if pulled(client, official):
            arguments[argument] = official
        else:
            arguments[argument] = build_standin(client, official, StandIn(dockerfile), lock_dir)
    return arguments


def compose_override(compose_file: Path, lock_dir: Path) -> dict[str, Any]:
    """A Compose override for ``compose_file`` that only swaps images no registry serves.

    Every service whose image cannot be pulled gets its stand-in as ``image:``; every service
    built from the Dockerfile gets `base_images` as build arguments. Nothing else changes.
    """
    client = require_engine()
    services = yaml.safe_load(compose_file.read_text())["services"]
    bases = base_images(lock_dir)
    override: dict[str, Any] = {}
    for name, service in services.items():
        if "build" in service:
            override[name] = {"build": {"args": dict(bases)}}
            continue
        official = service["image"]
        if pulled(client, official):
            continue
        repository = official.rsplit(":", 1)[0]
        if repository not in COMPOSE_STANDINS:
            pytest.fail(f"{name}: no stand-in for {official}, and it cannot be pulled")
        standin = COMPOSE_STANDINS[repository]
        override[name] = {"image": build_standin(client, official, standin, lock_dir)}
    return {"services": override}


def source_copy(target: Path) -> Path:
    """The files git knows, copied to ``target``: a build context or deployment a test may edit."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPOSITORY, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if (REPOSITORY / name).is_file():
            shutil.copy2(REPOSITORY / name, destination)
    return target


def main() -> None:
    """Print the stand-in override for ``deploy/docker-compose.yml`` (building what it needs).

    For a machine that reaches no registry: ``python -m tests.support.docker_engine >
    deploy/standins.override.yml``, then ``docker compose -f docker-compose.yml -f
    standins.override.yml up -d --build --wait`` in ``deploy/``.
    """
    override = compose_override(REPOSITORY / "deploy" / "docker-compose.yml", STANDIN_LOCKS)
    print(yaml.safe_dump(override), end="")


if __name__ == "__main__":
    main()
