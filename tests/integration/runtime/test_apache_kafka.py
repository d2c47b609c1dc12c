"""The Apache Kafka launcher against real files and processes: fetching, checking, no Java."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from merchstore.runtime.apache_kafka import CACHE_VARIABLE, fetch_jars, locked_jars
from merchstore.runtime.embedded import StartupError
from merchstore.runtime.maven import REPOSITORY_VARIABLE
from tests.support.up import free_up_ports, up_environment


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A Maven repository in a folder (file:// URLs), holding the locked jars."""
    folder = tmp_path / "repository"
    for jar, cached in zip(locked_jars(), fetch_jars(), strict=True):
        target = folder / jar.repository_path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target)
    return folder


def test_jars_are_fetched_once_and_an_altered_one_again(tmp_path: Path, repository: Path) -> None:
    cache = tmp_path / "cache"
    paths = fetch_jars(cache, repository.as_uri())
    assert len(paths) == len(locked_jars()) and all(path.parent == cache for path in paths)
    kept = paths[0].stat().st_mtime_ns
    assert fetch_jars(cache, repository.as_uri())[0].stat().st_mtime_ns == kept
    paths[1].write_bytes(b"not the jar")
    fetch_jars(cache, repository.as_uri())
    assert paths[1].read_bytes() != b"not the jar"


def test_a_jar_that_does_not_match_its_checksum_is_not_used(
    tmp_path: Path, repository: Path
) -> None:
    jar = locked_jars()[0]
    (repository / jar.repository_path).write_bytes(b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(StartupError, match="the lock file expects"):
        fetch_jars(cache, repository.as_uri())
    assert not (cache / jar.file_name).exists()


def test_an_unreachable_repository_is_one_clear_error(tmp_path: Path) -> None:
    missing = (tmp_path / "nowhere").as_uri()
    with pytest.raises(StartupError, match=REPOSITORY_VARIABLE):
        fetch_jars(tmp_path / "cache", missing)


def test_up_on_kafka_without_java_says_what_to_install(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("JAVA_HOME", "PATH")}
    result = subprocess.run(
        [sys.executable, "-m", "merchstore", "up", "--broker", "kafka"],
        env={
            **env,
            # Ports of its own: the defaults may be taken by another test's servers.
            **up_environment(free_up_ports()),
            "PATH": str(tmp_path),  # no java on it
            "MERCHSTORE_DATA_DIR": str(tmp_path / "data"),
            CACHE_VARIABLE: str(tmp_path / "cache"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output
    error_lines = [line for line in output.splitlines() if "Java" in line]
    assert len(error_lines) == 1 and "openjdk-17-jre-headless" in error_lines[0], output
    assert not (tmp_path / "data" / "postgres").exists(), "nothing was started"
