"""Logging for every merchstore process, from one YAML file in ``dictConfig`` format."""

from __future__ import annotations

import logging
import logging.config
from pathlib import Path
from typing import Any

import yaml

from merchstore.common.config import Settings, default_logging_config_file

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


def configure_logging(settings: Settings, service: str) -> None:
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
