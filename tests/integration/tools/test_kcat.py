"""``kcat`` as the tour shows it, Debian's kcat, against the embedded broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from merchstore.runtime.kafka_access import ADMINISTRATOR
from merchstore.settings import Settings
from merchstore.tools.kcat import system_kcat
from tests.support.kafka import produce_all, secured
from tests.support.paths import REPOSITORY

KCAT = Path(sys.executable).parent / "kcat"
TOUR = REPOSITORY / "docs" / "tour.md"


def test_debian_kcat_reads_events_from_the_embedded_broker_as_the_tour_shows(
    settings: Settings,
) -> None:
    assert system_kcat(str(KCAT)), "install Debian's kcat (make test does)"
    topic = settings.topics.events
    produce_all(settings.bootstrap_servers, topic, [b'{"n": 1}', b'{"n": 2}', b'{"n": 3}'])
    assert "kcat -C -b localhost:9092 -t events -o beginning -e" in TOUR.read_text()

    # On the suite's secured Apache Kafka, as the administrator, who may read events.
    access = secured(settings.bootstrap_servers)
    login = access.client_config(ADMINISTRATOR) if access is not None else {}
    options = [f"-X{key}={value}" for key, value in login.items()]
    answer = subprocess.run(
        [
            str(KCAT),
            "-C",
            "-b",
            settings.bootstrap_servers,
            *options,
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 0, answer.stderr
    assert sorted(answer.stdout.splitlines()) == ['{"n": 1}', '{"n": 2}', '{"n": 3}']
    assert "Read underflow" not in answer.stderr
