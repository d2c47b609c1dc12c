"""Jars from Maven Central, pinned by a lock file, checked against their SHA-256 and cached.

A lock file names one jar per line, ``group:artifact:version[:classifier] sha256``. Each jar is
downloaded once into a cache folder and checked before every use of the cache; one fetch runs at
a time per cache (a file lock), and a jar is renamed into place only once its checksum is right.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from merchstore.runtime.embedded import StartupError, file_lock

MAVEN_CENTRAL = "https://repo1.maven.org/maven2"
REPOSITORY_VARIABLE = "MERCHSTORE_MAVEN_REPOSITORY"
"""Set: fetch jars from this Maven repository (a mirror) instead of Maven Central."""


@dataclass(frozen=True)
class LockedJar:
    """One jar of a lock file: its Maven coordinates and checksum."""

    group: str
    artifact: str
    version: str
    sha256: str
    classifier: str = ""

    @property
    def _suffix(self) -> str:
        return f"-{self.classifier}" if self.classifier else ""

    @property
    def file_name(self) -> str:
        """The name of the jar in the cache (group first: two artifacts may share a name)."""
        return f"{self.group}.{self.artifact}-{self.version}{self._suffix}.jar"

    @property
    def repository_path(self) -> str:
        """Where the jar is in a Maven repository."""
        return (
            f"{self.group.replace('.', '/')}/{self.artifact}/{self.version}/"
            f"{self.artifact}-{self.version}{self._suffix}.jar"
        )


_LINE = re.compile(r"([\w.-]+):([\w.-]+):([\w.-]+)(?::([\w.-]+))? ([0-9a-f]{64})")


def locked_jars(lock_file: Path) -> list[LockedJar]:
    """The jars a lock file pins, in its order."""
    jars = []
    for number, line in enumerate(lock_file.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            raise ValueError(f"{lock_file}:{number}: not 'group:artifact:version sha256'")
        group, artifact, version, classifier, sha256 = match.groups()
        jars.append(LockedJar(group, artifact, version, sha256, classifier or ""))
    return jars


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file, in hex."""
    digest = hashlib.sha256()
    with path.open("rb") as jar:
        for block in iter(lambda: jar.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_locked(
    lock_file: Path, cache: Path, what: str, repository: str | None = None
) -> list[Path]:
    """The jars ``lock_file`` pins, in ``cache``, each downloaded first if missing or altered."""
    base = (repository or os.environ.get(REPOSITORY_VARIABLE) or MAVEN_CENTRAL).rstrip("/")
    cache.mkdir(parents=True, exist_ok=True)
    paths = []
    with file_lock(cache / ".fetch.lock"):
        for jar in locked_jars(lock_file):
            path = cache / jar.file_name
            if not path.exists() or sha256_of(path) != jar.sha256:
                download_checked(f"{base}/{jar.repository_path}", path, jar.sha256, what)
            paths.append(path)
    return paths


def download_checked(url: str, path: Path, sha256: str, what: str) -> None:
    """Download ``url`` to ``path`` if its SHA-256 is ``sha256``; else a one-line StartupError."""
    partial = path.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as answer, partial.open("wb") as out:
            shutil.copyfileobj(answer, out)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise StartupError(
            f"{what}: could not download {url} ({error}); set {REPOSITORY_VARIABLE} to a "
            "reachable Maven repository"
        ) from None
    found = sha256_of(partial)
    if found != sha256:
        partial.unlink()
        raise StartupError(
            f"{what}: {url} has SHA-256 {found}, the lock file expects {sha256}; not used"
        )
    partial.replace(path)
