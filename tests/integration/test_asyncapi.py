"""docs/asyncapi.yaml against the real things.

The AsyncAPI 3 specification's own schema, and the messages the services put on each topic.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from merchstore.settings import Settings
from tests.conftest import ServiceLauncher
from tests.support.asyncapi import payload_validator
from tests.support.kafka import read_topic
from tests.support.paths import REPOSITORY
from tests.support.store import Store

DOCUMENT = REPOSITORY / "docs" / "asyncapi.yaml"
SPECS = REPOSITORY / "tests" / "support" / "asyncapi-specs"
"""An npm package of the AsyncAPI specification's JSON Schemas (@asyncapi/specs), pinned."""


@pytest.fixture(scope="module")
def asyncapi_3_schema() -> dict[str, Any]:
    npm = shutil.which("npm")
    assert npm, "npm is needed (make test installs Node.js)"
    installed = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=SPECS,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    path = SPECS / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def test_the_document_is_valid_asyncapi_3(asyncapi_3_schema: dict[str, Any]) -> None:
    resource = Resource.from_contents(asyncapi_3_schema, default_specification=DRAFT7)
    registry: Registry[Any] = Registry().with_resource(asyncapi_3_schema["$id"], resource).crawl()
    validator = Draft7Validator(asyncapi_3_schema, registry=registry)
    document = yaml.safe_load(DOCUMENT.read_text())
    problems = [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(document)]
    assert not problems, "\n".join(problems)
    # The schema does check: an AsyncAPI 2 operation is refused.
    document["operations"]["sendEvents"]["action"] = "publish"
    assert list(validator.iter_errors(document))


def test_the_messages_on_every_topic_are_valid_by_the_document(
    services: ServiceLauncher, settings: Settings
) -> None:
    services.start("logging-service")
    services.start("db-service")
    store_api = services.start("store-api")
    receiver = services.start("receiver")
    answer = httpx.post(
        f"{receiver.url}/purchase_a_sword",
        json={"user_id": "42", "metadata": {"sword_type": "katana", "price": "9.99"}},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    store = Store(store_api.url)
    shopper = store.register("asyncapi")
    order = httpx.post(
        f"{store_api.url}/orders",
        json={"product_id": 1, "quantity": 2},
        headers=shopper.auth,
        timeout=30,
    )
    assert order.status_code == 201, order.text

    document = yaml.safe_load(DOCUMENT.read_text())
    bootstrap, topics = settings.bootstrap_servers, settings.topics
    expected = {
        # The sword and the order (the outbox relays it within a second).
        "events": (topics.events, 2, topics.events_partitions),
        # receiver 0001, store-api 0005, db-service 0006, logging-service 0007.
        "eventLog": (topics.event_log, 4, 1),
        # store-api's request lines, shipped through logging-service.
        "logChannel": (topics.log_channel, 1, topics.log_channel_partitions),
    }
    for channel, (topic, count, partitions) in expected.items():
        messages = read_topic(bootstrap, topic, count, timeout_s=60, partitions=partitions)
        assert len(messages) >= count, f"{topic}: {len(messages)} message(s), {count} expected"
        validator = payload_validator(document, channel)
        for message in messages:
            value = message.value()
            assert value is not None
            body = json.loads(value)
            problems = [error.message for error in validator.iter_errors(body)]
            assert not problems, f"{topic} message {body} is not as documented: {problems}"
