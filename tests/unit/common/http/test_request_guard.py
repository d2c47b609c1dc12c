"""The shared edge check, on every HTTP service's application: 413, 422, never a 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import find, given, settings
from hypothesis import strategies as st

from merchstore.common.http.openapi import openapi_document  # noqa: F401 - documents the apps
from merchstore.common.http.request_guard import (
    ForbiddenInput,
    check_json_body,
    check_json_value,
    check_text,
)
from merchstore.services import SERVICES

HTTP_SERVICES = [spec for spec in SERVICES if spec.protocol == "http"]


def _client(api_module: str) -> TestClient:
    import importlib

    module = importlib.import_module(api_module)
    return TestClient(module.create_app(), raise_server_exceptions=False)


def _first_post_path(client: TestClient) -> str:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return next((path for path, ops in paths.items() if "post" in ops), "/health")


_any_character = (
    # st.text() alone never draws a lone surrogate (category Cs), the case these checks are
    # about; controls and surrogates are drawn often, beside any other character.
    st.characters(exclude_categories=())
    | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    | st.characters(max_codepoint=0x7F)
)
_any_text = st.text(alphabet=_any_character)

_json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_any_text, inner, max_size=4),
    max_leaves=80,
)


def _has_lone_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def test_the_generated_texts_meet_every_case_the_checks_are_about() -> None:
    assert _has_lone_surrogate(find(_any_text, _has_lone_surrogate))
    assert "\x00" in find(_any_text, lambda text: "\x00" in text)
    assert "\x7f" in find(_any_text, lambda text: "\x7f" in text)


@given(document=_json_documents, ascii_only=st.booleans(), indent=st.sampled_from([None, 1]))
@settings(max_examples=500, deadline=None)
def test_the_quick_look_refuses_exactly_what_decoding_every_string_refuses(
    document: object, ascii_only: bool, indent: int | None
) -> None:
    """Bodies skipped without decoding are ones the full check would have passed too."""
    body = json.dumps(document, ensure_ascii=ascii_only, indent=indent).encode(
        "utf-8", "surrogatepass"
    )
    try:
        check_json_value(json.loads(body.decode("utf-8", "surrogatepass")))
        full_refuses = False
    except (ForbiddenInput, RecursionError):
        full_refuses = True
    try:
        check_json_body(body)
        quick_refuses = False
    except ForbiddenInput:
        quick_refuses = True
    assert quick_refuses == full_refuses


@pytest.mark.parametrize("spec", HTTP_SERVICES, ids=lambda spec: spec.name)
@pytest.mark.parametrize(
    "body",
    [
        '{"user_id": "\\u0000"}',
        '{"username": "a\\u001fb", "password": "secret-password"}',
        '{"metadata": {"k\\u007f": "v"}}',
        '{"user_id": "\\ud800"}',
        '{"list": ["ok", "\\udfff"]}',
        '{"text": "line\\nbreak"}',
    ],
)
def test_control_characters_and_lone_surrogates_are_422(spec: object, body: str) -> None:
    client = _client(spec.api_module)  # type: ignore[attr-defined]
    answer = client.post(
        _first_post_path(client), content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert "U+" in detail and "secret-password" not in detail


@pytest.mark.parametrize("spec", HTTP_SERVICES, ids=lambda spec: spec.name)
def test_bodies_over_64_kib_are_413(spec: object) -> None:
    client = _client(spec.api_module)  # type: ignore[attr-defined]
    path = _first_post_path(client)
    big = json.dumps({"padding": "x" * 65 * 1024})
    answer = client.post(path, content=big, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert "64 KiB" in answer.json()["detail"]


@pytest.mark.parametrize("spec", HTTP_SERVICES, ids=lambda spec: spec.name)
def test_query_and_path_text_is_checked(spec: object) -> None:
    client = _client(spec.api_module)  # type: ignore[attr-defined]
    assert client.get("/health?x=%00").status_code == 422
    assert client.get("/%01").status_code == 422
    assert client.get("/health?x=%ED%A0%80").status_code == 422


@pytest.mark.parametrize("spec", HTTP_SERVICES, ids=lambda spec: spec.name)
def test_bodies_that_are_not_utf8_are_422_json(spec: object) -> None:
    client = _client(spec.api_module)  # type: ignore[attr-defined]
    answer = client.post(
        _first_post_path(client),
        content=b'{"a": "\xff"}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert "UTF-8" in answer.json()["detail"]


def test_deep_nesting_is_refused_without_recursion_error() -> None:
    with pytest.raises(ForbiddenInput):
        check_json_body(b"[" * 5000 + b"]" * 5000)
    with pytest.raises(ForbiddenInput):
        check_json_body(b"[" * 100 + b"]" * 100)


@settings(max_examples=300, deadline=None)
@given(_any_text)
def test_check_text_refuses_exactly_the_forbidden_characters(text: str) -> None:
    forbidden = any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in text)
    try:
        check_text(text, "field")
    except ForbiddenInput:
        assert forbidden
    else:
        assert not forbidden


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bodies_never_give_a_500(body: bytes) -> None:
    client = _client("merchstore.event_logger.api")
    answer = client.post(
        "/events_stats", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code < 500
    assert "detail" in answer.json()


@pytest.mark.parametrize(
    ("api_module", "path", "body"),
    [
        ("merchstore.receiver.api", "/purchase_a_sword", '{"metadata": {"n": %s}}'),
        ("merchstore.store_api.api", "/users/login", '{"username": %s, "password": "x"}'),
    ],
    ids=["receiver", "store-api"],
)
def test_a_number_longer_than_python_converts_is_a_422_that_says_so(
    api_module: str, path: str, body: str
) -> None:
    client = _client(api_module)
    answer = client.post(
        path, content=body % ("9" * 5000), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert "more than 4300 digits" in answer.json()["detail"]


class _NeverUsed:
    """Stands in for a service's parts: a request refused before its route must not use them."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"a refused request used the service's {name}")


def _client_before_the_route(api_module: str) -> TestClient:
    """A service's application whose parts must never be reached."""
    client = _client(api_module)
    client.app.state.parts = _NeverUsed()  # type: ignore[attr-defined]
    return client


@pytest.mark.parametrize(
    ("api_module", "path", "body"),
    [
        ("merchstore.receiver.api", "/purchase_a_sword", '{"user_id": "42"}'),
        ("merchstore.store_api.api", "/users/login", '{"username": "a", "password": "b"}'),
    ],
    ids=["receiver", "store-api"],
)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", None])
def test_json_sent_without_a_json_content_type_is_a_422_that_says_how_to_send_it(
    api_module: str, path: str, body: str, content_type: str | None
) -> None:
    client = _client_before_the_route(api_module)
    headers = {"content-type": content_type} if content_type else {}
    answer = client.post(path, content=body, headers=headers)
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert "Content-Type: application/json" in detail
    assert (content_type or "with none") in detail


def test_a_json_body_of_the_wrong_shape_is_still_described_field_by_field() -> None:
    client = _client_before_the_route("merchstore.receiver.api")
    answer = client.post(
        "/purchase_a_sword", content="[]", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 422
    assert answer.json()["detail"] == "the body: must be a JSON object"
