"""OpenAPI documents of the HTTP services, rendered without starting them."""

from __future__ import annotations

import importlib
from typing import Any, Protocol, cast

import yaml
from fastapi import FastAPI


class _ApiModule(Protocol):
    def create_app(self) -> FastAPI: ...


def openapi_document(api_module: str) -> dict[str, Any]:
    """The OpenAPI document of a service's ``api`` module: its application, never started."""
    module = cast(_ApiModule, importlib.import_module(api_module))
    return module.create_app().openapi()


def to_yaml(document: dict[str, Any]) -> str:
    """A stable YAML rendering, as committed under ``docs/openapi/``."""
    return yaml.safe_dump(document, sort_keys=True, allow_unicode=True, width=100)
