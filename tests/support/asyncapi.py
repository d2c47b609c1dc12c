"""Checking a message against docs/asyncapi.yaml: the payload schema of its channel."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource


def payload_validator(document: dict[str, Any], channel: str) -> Draft7Validator:
    """A validator of the payload of ``channel``'s message, its references resolved."""
    registry: Registry[Any] = Registry().with_resource("urn:asyncapi", Resource.opaque(document))
    [message] = document["channels"][channel]["messages"].values()
    name = message["$ref"].rsplit("/", 1)[1]
    payload = document["components"]["messages"][name]["payload"]["$ref"]
    return Draft7Validator({"$ref": f"urn:asyncapi{payload}"}, registry=registry)
