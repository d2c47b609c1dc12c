"""The run folder of a `merchstore up`: where tools find what the running system uses."""

from __future__ import annotations

from merchstore.common.config.base import CommonSettings
from merchstore.common.config.errors import ConfigError

RUN_DIR = "run"
"""Under the data directory: the files of the running `merchstore up` (lock, pids, configs)."""

BROKER_ADDRESS_FILE = f"{RUN_DIR}/kafka-bootstrap"
"""Under the data directory: the broker a running `merchstore up` uses, for the CLI tools."""


def broker_of_running_system(settings: CommonSettings) -> str:
    """The configured broker, or the one a `merchstore up` on this data directory uses.

    Lets operator tools (the tails) find the broker with no setting at all.
    """
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers
    try:
        address = settings.data_path(BROKER_ADDRESS_FILE).read_text().strip()
    except OSError:
        address = ""
    if not address:
        raise ConfigError(
            f"no broker: no `merchstore up` is running on {settings.data_dir.resolve()} "
            "(start one; or pass the --data-dir of the one that runs; or name its broker, "
            "e.g. MERCHSTORE_KAFKA_BOOTSTRAP_SERVERS=localhost:9092)"
        )
    return address
