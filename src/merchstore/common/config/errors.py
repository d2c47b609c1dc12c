"""What a bad setting gets: one message naming each bad key and how to set it."""

from __future__ import annotations

import os
import re

from pydantic import ValidationError
from pydantic_settings import SettingsError

from merchstore.common.config.secrets import secrets_dir

ENV_PREFIX = "MERCHSTORE_"
"""Every setting's environment variable starts so (nested keys joined by ``__``)."""


class ConfigError(Exception):
    """The configuration is invalid; the message names each bad key and where to fix it."""


def env_name(location: tuple[int | str, ...]) -> str:
    """The environment variable of the setting at ``location`` (``("kafka", "port")``)."""
    return ENV_PREFIX + "__".join(str(part).upper() for part in location)


def describe_validation_error(error: ValidationError) -> str:
    """Turn a pydantic error into lines that name each bad key, its value and how to set it."""
    lines = ["invalid configuration:"]
    for item in error.errors():
        location = tuple(item["loc"])
        key = ".".join(str(part) for part in location) or "(settings)"
        value = item.get("input")
        shown = "" if isinstance(value, dict) or location == () else f" (got {value!r})"
        lines.append(f"  {key}: {item['msg']}{shown}")
        if location:
            lines.append(f"    set it in the YAML file or with {env_name(location)}")
    return "\n".join(lines)


def describe_unreadable_secret(path: object, error: OSError) -> str:
    """One line for a secret file this process cannot read."""
    return (
        f"cannot read the secret file {path} ({error.strerror or error}): this process runs "
        f"as uid {os.getuid()}, which must be able to read it (`merchstore compose-secrets` "
        "makes the files readable in a private folder)"
    )


def describe_settings_error(error: SettingsError) -> str:
    """One line for a setting no source could read: most often a secret file not readable."""
    cause = error.__cause__
    field = re.search(r'field "(\w+)"', str(error))
    if isinstance(cause, OSError) and field is not None:
        path = secrets_dir() / f"{ENV_PREFIX.lower()}{field.group(1)}"
        return describe_unreadable_secret(path, cause)
    return f"cannot read the configuration: {error}" + (f" ({cause})" if cause else "")
