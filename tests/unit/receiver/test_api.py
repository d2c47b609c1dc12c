"""The receiver's routes in process, against a fake publisher: keys, answers, API document."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from merchstore.receiver.api import IDEMPOTENCY_KEY, Parts, create_app
from merchstore.receiver.use_cases import PlayerActions
from tests.unit.receiver.fakes import RecordingPublisher


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def client(publisher: RecordingPublisher) -> Iterator[TestClient]:
    app = create_app(lambda: None)
    app.state.parts = Parts(actions=PlayerActions(publisher))
    with TestClient(app) as test_client:
        yield test_client


def event_id(client: TestClient, method: str, path: str, key: str | None, user: str) -> str:
    headers = {} if key is None else {IDEMPOTENCY_KEY: key}
    if method == "POST":
        answer = client.post(path, json={"user_id": user}, headers=headers)
    else:
        answer = client.get(path, params={"user_id": user}, headers=headers)
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["event_id"])


def test_a_key_makes_a_retry_the_same_event_by_post_and_by_get(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    first = event_id(client, "POST", "/join_guild", "retry-1", "7")
    assert event_id(client, "POST", "/join_guild", "retry-1", "7") == first
    assert event_id(client, "GET", "/join_guild", "retry-1", "7") == first, "GET is the same"
    assert event_id(client, "POST", "/join_guild", "retry-1", "8") != first, "another user"
    assert event_id(client, "POST", "/purchase_a_sword", "retry-1", "7") != first
    assert event_id(client, "POST", "/join_guild", "retry-2", "7") != first, "another key"
    assert event_id(client, "POST", "/join_guild", None, "7") != first, "no key"
    assert len(publisher.published) == 7, "each request is published"


def test_the_default_route_reads_the_key_too(client: TestClient) -> None:
    answers = [client.get("/", headers={IDEMPOTENCY_KEY: "once"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json()["event_id"] == answers[1].json()["event_id"]


@pytest.mark.parametrize(
    ("key", "problem"), [("k" * 256, "string_too_long"), ("", "string_too_short")]
)
@pytest.mark.parametrize(("method", "path"), [("POST", "/join_guild"), ("GET", "/")])
def test_a_key_of_the_wrong_length_is_refused_as_a_header_and_publishes_nothing(
    client: TestClient,
    publisher: RecordingPublisher,
    key: str,
    problem: str,
    method: str,
    path: str,
) -> None:
    answer = client.request(method, path, headers={IDEMPOTENCY_KEY: key})
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert [(e["type"], e["loc"]) for e in errors] == [(problem, ["header", IDEMPOTENCY_KEY])]
    assert IDEMPOTENCY_KEY in answer.json()["detail"]
    assert key not in answer.text or not key, "the refused value is not echoed"
    assert publisher.published == []


def test_an_unpublished_event_is_a_503_that_says_how_to_retry(
    client: TestClient, publisher: RecordingPublisher
) -> None:
    publisher.down = True
    answer = client.post("/purchase_a_sword", headers={IDEMPOTENCY_KEY: "k"})
    assert answer.status_code == 503
    assert IDEMPOTENCY_KEY in answer.json()["detail"]


def test_every_action_route_documents_the_optional_header() -> None:
    paths = create_app().openapi()["paths"]
    operations = [
        operation
        for path, methods in paths.items()
        if path not in ("/health", "/metrics")
        for operation in methods.values()
    ]
    assert len(operations) == 7, "the default route and GET and POST of three actions"
    for operation in operations:
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        assert [(p["name"], p["required"]) for p in headers] == [(IDEMPOTENCY_KEY, False)]
        lengths = headers[0]["schema"]["anyOf"][0]
        assert (lengths["minLength"], lengths["maxLength"]) == (1, 255)
