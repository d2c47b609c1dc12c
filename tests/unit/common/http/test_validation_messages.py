"""Validation errors in plain words, over the real request models and hostile bodies."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from merchstore.common.http.validation_messages import plain_messages
from merchstore.receiver.domain import ActionBody
from merchstore.store_api.domain import Credentials, OrderRequest, UserRegistration

MODELS: list[type[BaseModel]] = [ActionBody, UserRegistration, Credentials, OrderRequest]
INTERNALS = re.compile(
    r"items after validation|constrained-str|\[key\]|Input should|String should|"
    r"\bdict\b|\bstr\b|\bint\b|\bfloat\b|\bbool\b|function-after|json-or-python"
)
BARE_OFFSET = re.compile(r"(^|\.)\d+:")


def messages(model: type[BaseModel], body: Any) -> list[str]:
    try:
        model.model_validate(body)
    except ValidationError as error:
        return plain_messages([{**i, "loc": ("body", *i["loc"])} for i in error.errors()])
    return []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=70), inner),
    max_leaves=12,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "user_id": json_values,
            "metadata": json_values,
            "sid": json_values,
            "username": json_values,
            "email": json_values,
            "password": json_values,
            "product_id": json_values,
            "quantity": json_values,
        },
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MODELS), bodies)
def test_no_message_names_pydantic_internals_or_a_bare_offset(
    model: type[BaseModel], body: Any
) -> None:
    for message in messages(model, body):
        assert not INTERNALS.search(message), message
        assert not BARE_OFFSET.search(message), message
        where, _, what = message.partition(": ")
        assert where and what, message


def test_what_a_newcomer_meets_first_reads_plainly() -> None:
    short = {"sid": "1", "username": "alice", "email": "a@example.com", "password": "short"}
    assert messages(UserRegistration, short) == ["password: must have at least 8 characters"]
    assert messages(ActionBody, {"metadata": {"tags": ["a"]}}) == [
        "metadata.tags: must be one of: true or false, a whole number, a number, text"
    ]
    assert messages(ActionBody, {"metadata": {"": 1}}) == [
        "a key of metadata: must have at least 1 character"
    ]
    assert messages(ActionBody, {"colour": "red"}) == [
        "colour: is not accepted here (not a documented field)"
    ]
    assert messages(UserRegistration, {})[0] == "sid: is required"


def test_a_body_that_is_not_json_names_no_offset_as_a_field() -> None:
    error = {"type": "json_invalid", "loc": ("body", 17), "ctx": {"error": "Expecting value"}}
    assert plain_messages([error]) == [
        "the body is not valid JSON (Expecting value, at character 17)"
    ]
