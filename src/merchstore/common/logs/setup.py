"""Logging for every merchstore process, from one YAML file in ``dictConfig`` format."""

from __future__ import annotations

import logging
import logging.config
from pathlib import Path
from typing import Any

import yaml

from merchstore.common.config.base import CommonSettings
from merchstore.common.config.defaults import default_logging_config_file
from merchstore.common.logs.shipping import LogShippingHandler
from merchstore.common.logs.spool import LogSpool, SpoolInUse

_service_name = "merchstore"


class ServiceNameFilter(logging.Filter):
    """Stamp each record with the service name, so one console shows who said what."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``record.service``; never drops a record."""
        record.service = _service_name
        return True


def _fill_placeholders(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _fill_placeholders(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill_placeholders(item, values) for item in node]
    if isinstance(node, str) and "{" in node:
        for name, value in values.items():
            node = node.replace("{" + name + "}", value)
    return node


def configure_logging(settings: CommonSettings, service: str) -> None:
    """Apply the YAML logging configuration for ``service`` (creating log folders it names)."""
    global _service_name
    _service_name = service
    path = settings.logging_config_file or default_logging_config_file()
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    config = _fill_placeholders(
        raw, {"data_dir": str(settings.data_dir.resolve()), "service": service}
    )
    for handler in config.get("handlers", {}).values():
        filename = handler.get("filename")
        if filename:
            Path(filename).parent.mkdir(parents=True, exist_ok=True)
    config.setdefault("root", {})["level"] = settings.log_level
    logging.config.dictConfig(config)


def ship_logs(
    settings: CommonSettings, service: str, port: int, target: str
) -> LogShippingHandler | None:
    """Start streaming this service's ``merchstore.*`` records to logging-service at ``target``.

    With ``log_shipping.spool``, each line is first kept in ``log-spool/<service>-<port>``
    under the data directory until logging-service acknowledges it: a crash loses none, and
    the next start on the same port sends what the crashed run had not.
    """
    config = settings.log_shipping
    if not config.enabled:
        return None
    spool = None
    if config.spool:
        try:
            spool = LogSpool(settings.data_path(f"log-spool/{service}-{port}.jsonl"))
        except SpoolInUse as error:
            logging.getLogger("merchstore.log_shipping").warning(
                "log lines kept in memory only: %s", error
            )
    handler = LogShippingHandler(
        target,
        service,
        config.queue_size,
        logging.getLevelName(config.level),
        lines_per_stream=config.lines_per_stream,
        stream_max_s=config.stream_max_s,
        spool=spool,
        tls=settings.grpc_tls.material(),
    )
    logging.getLogger("merchstore").addHandler(handler)
    return handler


def stop_shipping_logs(handler: LogShippingHandler | None, settings: CommonSettings) -> None:
    """Flush and detach the handler ``ship_logs`` returned."""
    if handler is not None:
        logging.getLogger("merchstore").removeHandler(handler)
        handler.close(settings.log_shipping.shutdown_flush_s)
