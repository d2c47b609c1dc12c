"""The packaged YAML files: every default of the settings, documented, and the logging setup."""

from __future__ import annotations

import textwrap
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings

DEFAULTS_HEADER = """\
# merchstore application configuration: every default, in one place.
# Generated from the settings (merchstore/settings.py and each service's settings.py), which
# hold the defaults:
#     merchstore config-defaults > src/merchstore/config/merchstore.yaml
# (a test fails while this file and the code disagree).
# Override any key with an environment variable: MERCHSTORE_<KEY>, nested keys joined by "__",
# e.g. MERCHSTORE_EVENT_LOGGER__PORT=9120, or with your own YAML file named by
# MERCHSTORE_CONFIG_FILE (it only needs the keys it changes).
"""
_NOT_IN_DEFAULTS = frozenset({"jwt_secret"})  # a secret has no default worth printing


def render_defaults(settings_class: type[BaseSettings]) -> str:
    """The packaged ``merchstore.yaml``: every key with its default and what it is for."""
    top, sections = [], []
    for name, field in settings_class.model_fields.items():
        if name in _NOT_IN_DEFAULTS:
            continue
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            summary = (section.__doc__ or "").strip().replace("``", "`")
            lines = ["", f"# {summary}", f"{name}:"]
            for key, inner in section.model_fields.items():
                lines += _default_lines(key, inner, "  ")
            sections += lines
        else:
            top += _default_lines(name, field, "")
    return DEFAULTS_HEADER + "\n" + "\n".join(top + sections) + "\n"


def _default_lines(key: str, field: Any, indent: str) -> list[str]:
    lines = []
    if field.description:
        for line in textwrap.wrap(field.description, 96 - len(indent)):
            lines.append(f"{indent}# {line}")
    value = (
        field.default.get_secret_value() if isinstance(field.default, SecretStr) else field.default
    )
    if isinstance(value, Path):
        value = str(value)
    rendered = yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()
    lines.append(f"{indent}{key}: {rendered}")
    return lines


def default_config_file() -> Path:
    """The packaged YAML file with every default, documented."""
    return Path(str(resources.files("merchstore") / "config" / "merchstore.yaml"))


def default_logging_config_file() -> Path:
    """The packaged YAML logging configuration (``logging.config.dictConfig`` format)."""
    return Path(str(resources.files("merchstore") / "config" / "logging.yaml"))
