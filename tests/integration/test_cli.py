"""The command line: fixed service names, one-line failures, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from merchstore.runtime.deploy_secrets import write_compose_secrets
from merchstore.services import SERVICES
from tests.support.processes import free_port


def merchstore(
    *arguments: str, cwd: Path, settings: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI with none of this process's MERCHSTORE_ settings, only ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERCHSTORE_")}
    env.update(settings or {})
    return subprocess.run(
        [sys.executable, "-m", "merchstore", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_service_names_are_a_fixed_choice_listed_in_help(tmp_path: Path) -> None:
    help_text = merchstore("serve", "--help", cwd=tmp_path).stdout
    # Each name whole on its line (click's usage line used to break them: "db-\n service").
    assert "Usage: merchstore serve [OPTIONS] SERVICE\n" in help_text
    listed = " ".join(help_text.split())
    assert all(f" {spec.name}," in listed or f" {spec.name}." in listed for spec in SERVICES)
    for command in (["health", "badname"], ["serve", "badname"], ["openapi", "badname"]):
        result = merchstore(*command, cwd=tmp_path)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        said = " ".join(result.stderr.split())
        assert "Invalid value for 'SERVICE': 'badname' is not one of" in said


def test_openapi_offers_only_the_services_that_have_a_document(tmp_path: Path) -> None:
    offered = " ".join(merchstore("openapi", "--help", cwd=tmp_path).stdout.split())
    for spec in SERVICES:
        assert (f" {spec.name}," in offered or f" {spec.name}." in offered) == (
            spec.protocol == "http"
        ), spec.name


def test_status_of_a_system_that_is_not_running(tmp_path: Path) -> None:
    # Every service on a free port of its own: nothing answers, whatever runs on the defaults.
    ports = {spec.port_setting: str(free_port()) for spec in SERVICES}
    result = merchstore("status", cwd=tmp_path, settings=ports)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(SERVICES)
    for spec, line in zip(SERVICES, lines, strict=True):
        assert spec.name in line and "NOT READY" in line, line


def run_as_another_user(
    arguments: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run ``arguments`` as uid/gid 65534 (nobody), as a container's own user reads its files."""
    assert os.geteuid() == 0, "this test reads files as another user: run the suite as root"
    return subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )


def test_compose_secret_files_are_readable_by_the_containers_user_and_private_on_the_host(
    tmp_path: Path,
) -> None:
    """The files `compose-secrets` makes, mounted one by one as Compose does, read as uid 65534.

    Compose bind-mounts each file with its host owner and mode, so the mount is simulated by a
    hard link (the same inode) in a folder anyone can open. Files of mode 0600, as an earlier
    version made them, stop the service with one line naming the file.
    """
    private = tmp_path / "secrets"
    write_compose_secrets(private, "merchstore")
    assert private.stat().st_mode & 0o777 == 0o700
    mounted = Path(tempfile.mkdtemp(prefix="merchstore-run-secrets-"))
    try:
        mounted.chmod(0o755)
        for secret in private.iterdir():
            if not secret.name.startswith("database_url_"):
                os.link(secret, mounted / secret.name)
        # Storage's own URL, under the name Compose mounts it as.
        os.link(private / "database_url_storage", mounted / "merchstore_database_url")
        env = {
            "PATH": os.environ["PATH"],
            "MERCHSTORE_SECRETS_DIR": str(mounted),
            "MERCHSTORE_ENVIRONMENT": "production",
        }
        probe = "from merchstore.settings import load_settings;print(load_settings().database_dsn)"
        read = run_as_another_user([sys.executable, "-c", probe], env)
        assert read.returncode == 0, read.stderr
        assert read.stdout.strip() == (private / "database_url_storage").read_text()
        # On the host, the folder keeps another user out.
        denied = run_as_another_user(["cat", str(private / "merchstore_jwt_secret")], env)
        assert denied.returncode != 0 and "Permission denied" in denied.stderr

        (mounted / "merchstore_database_url").chmod(0o600)  # as earlier versions made it
        refused = run_as_another_user([sys.executable, "-m", "merchstore", "serve", "storage"], env)
        assert refused.returncode == 2
        assert "Traceback" not in refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1, refused.stderr
        assert f"cannot read the secret file {mounted}/merchstore_database_url" in lines[0]
        assert "Permission denied" in lines[0] and "uid 65534" in lines[0]
        # Running compose-secrets again opens the existing files up, content unchanged.
        before = (private / "database_url_storage").read_text()
        write_compose_secrets(private, "merchstore")
        assert (private / "database_url_storage").stat().st_mode & 0o777 == 0o644
        assert (private / "database_url_storage").read_text() == before
    finally:
        shutil.rmtree(mounted)
