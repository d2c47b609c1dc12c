"""Process supervision for ``merchstore up``, delegated to supervisord.

supervisord starts every service as its own process, restarts one that dies (with growing
back-off while it keeps failing to start), and on shutdown sends SIGTERM to each process group,
then SIGKILL after ``stop_timeout_s``. This module writes its configuration and reads its state.
"""

from __future__ import annotations

import http.client
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import psutil
from supervisor.xmlrpc import SupervisorTransport

from merchstore.common.config.sections import SupervisorSettings
from merchstore.runtime.leftovers import stop_leftover, stop_process_tree, stopped_with_parent

CONFIG_FILE = "supervisord.conf"
PID_FILE = "supervisord.pid"
"""supervisord's configuration and pid file, in the run directory of ``merchstore up``."""

PRIORITY_BASE = 100
"""The first program's supervisord priority; each next one gets one more (lower starts first
and stops last)."""


@dataclass(frozen=True)
class Program:
    """One supervised process: a name, its command and the environment it adds."""

    name: str
    command: Sequence[str]
    environment: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def service(cls, name: str, environment: Mapping[str, str] | None = None) -> Program:
        """The program serving merchstore service ``name``."""
        command = [sys.executable, "-m", "merchstore", "serve", name]
        return cls(name, command, environment or {})


def _supervisor_value(value: str) -> str:
    # supervisord expands %(name)s in its configuration, so a literal % is written %%.
    return value.replace("%", "%%")


@dataclass(frozen=True)
class ProcessState:
    """What supervisord says of one service process."""

    name: str
    state: str
    pid: int
    spawn_error: str


def render_config(
    programs: Iterable[Program],
    *,
    socket_path: Path,
    log_dir: Path,
    pid_file: Path,
    settings: SupervisorSettings,
) -> str:
    """The supervisord configuration that runs ``programs``, given in start order.

    Each program's priority follows that order, and supervisord stops programs in reverse
    priority, one after the other: a service stops before the ones it relies on. db-service and
    store-api stop while logging-service still takes their last log lines, and the
    event-logger, first to start, is the last to stop. With equal priorities supervisord would
    stop them in reverse alphabetical order, logging-service before db-service.
    """
    sections = [
        f"[unix_http_server]\nfile={socket_path}\nchmod=0700\n",
        "[supervisord]\nnodaemon=true\n"
        f"logfile={log_dir / 'supervisord.log'}\npidfile={pid_file}\nchildlogdir={log_dir}\n"
        "loglevel=info\n",
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
    ]
    for index, program in enumerate(programs):
        command = _supervisor_value(shlex.join(program.command))
        environment = ",".join(
            f'{key}="{_supervisor_value(value)}"' for key, value in program.environment.items()
        )
        sections.append(
            f"[program:{program.name}]\n"
            f"command={command}\n"
            + (f"environment={environment}\n" if environment else "")
            + f"priority={PRIORITY_BASE + index}\n"
            + "autostart=true\nautorestart=true\n"
            # A process that dies within startsecs counts as a failed start: it is retried
            # with a growing pause (1 s, 2 s, ...) and given up after start_retries.
            "startsecs=3\n"
            f"startretries={settings.start_retries}\n"
            f"stopsignal=TERM\nstopwaitsecs={settings.stop_timeout_s}\n"
            "stopasgroup=true\nkillasgroup=true\n"
            "redirect_stderr=true\n"
            f"stdout_logfile={log_dir / (program.name + '.log')}\n"
            "stdout_logfile_maxbytes=20MB\nstdout_logfile_backups=3\n"
        )
    return "\n".join(sections)


class Supervisor:
    """A running supervisord and the services it keeps alive."""

    def __init__(
        self,
        programs: Iterable[Program],
        *,
        run_dir: Path,
        log_dir: Path,
        environment: Mapping[str, str],
        settings: SupervisorSettings,
    ) -> None:
        self.programs = list(programs)
        self.log_dir = log_dir
        self._settings = settings
        self._environment = dict(environment)
        # A Unix socket path must stay under ~100 bytes, whatever the data directory is.
        self._socket_dir = Path(tempfile.mkdtemp(prefix="merchstore-"))
        self._socket_path = self._socket_dir / "supervisor.sock"
        self.config_file = run_dir / CONFIG_FILE
        self._pid_file = run_dir / PID_FILE
        self._process: subprocess.Popen[bytes] | None = None
        self._rpc: Any = None

    @staticmethod
    def stop_leftover(run_dir: Path, settings: SupervisorSettings) -> int | None:
        """Stop the supervisord (and its services) an earlier run in ``run_dir`` left running."""
        return stop_leftover(
            run_dir / PID_FILE, str(run_dir / CONFIG_FILE), signal.SIGTERM, _stop_bound_s(settings)
        )

    @property
    def pid(self) -> int | None:
        """Supervisord's process id while running."""
        return None if self._process is None else self._process.pid

    def log_file(self, name: str) -> Path:
        """The log file of service ``name``."""
        return self.log_dir / f"{name}.log"

    def start(self, timeout_s: float = 15.0) -> None:
        """Write the configuration, start supervisord, and wait until it answers.

        Call it from a thread that lives as long as supervisord should: on Linux, supervisord
        is asked to stop when the thread that started it ends (see `stopped_with_parent`).
        """
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(
            render_config(
                self.programs,
                socket_path=self._socket_path,
                log_dir=self.log_dir,
                pid_file=self._pid_file,
                settings=self._settings,
            )
        )
        with (self.log_dir / "supervisord.out").open("ab") as output:
            self._process = subprocess.Popen(
                # If `up` is killed outright, supervisord still stops every service.
                stopped_with_parent(
                    [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.config_file)],
                    signal.SIGTERM,
                ),
                env={**os.environ, **self._environment},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"supervisord exited with status {self._process.returncode} "
                    f"(log: {self.log_dir / 'supervisord.out'})"
                )
            try:
                self._rpc = self._connect()
                self._rpc.supervisor.getState()
                return
            except (OSError, http.client.HTTPException, xmlrpc.client.Fault):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _connect(self) -> Any:
        return xmlrpc.client.ServerProxy(
            "http://127.0.0.1",
            transport=SupervisorTransport(None, None, f"unix://{self._socket_path}"),
        )

    def states(self) -> dict[str, ProcessState]:
        """The state of every service process, by name."""
        infos = cast(list[dict[str, Any]], self._rpc.supervisor.getAllProcessInfo())
        return {
            info["name"]: ProcessState(
                info["name"], info["statename"], int(info["pid"]), info["spawnerr"]
            )
            for info in infos
        }

    def stop(self) -> None:
        """Stop every service (SIGTERM, SIGKILL after the bound), then supervisord itself.

        Anything that outlived supervisord (it should not) is not left behind either.
        """
        if self._process is None:
            return
        if self._process.poll() is None:
            with suppress(psutil.NoSuchProcess):
                stop_process_tree(
                    psutil.Process(self._process.pid), signal.SIGTERM, _stop_bound_s(self._settings)
                )
        self._process.wait()
        self._process = None
        shutil.rmtree(self._socket_dir, ignore_errors=True)


def _stop_bound_s(settings: SupervisorSettings) -> float:
    # Each service gets stop_timeout_s before its SIGKILL; supervisord itself a little more.
    return settings.stop_timeout_s + 10
