"""Hypothesis strategies for what a hostile or broken producer writes to a topic."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Text that includes NUL, other control characters and unpaired surrogates.
hostile_text = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=()),
    max_size=40,
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(hostile_text, children, max_size=3)
    ),
    max_leaves=8,
)


def encode(document: Any) -> bytes:
    """JSON as a careless producer writes it: NaN, Infinity and lone surrogates included."""
    return json.dumps(document, ensure_ascii=True, allow_nan=True).encode()


def shaped_like(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[bytes]:
    """JSON objects with the real message's keys, each holding good or hostile values."""
    return st.fixed_dictionaries(
        {}, optional={key: st.one_of(strategy, json_values) for key, strategy in fields.items()}
    ).map(encode)


def deep_nesting() -> st.SearchStrategy[bytes]:
    """Arrays or objects nested beyond any parser's comfort."""
    return st.integers(min_value=500, max_value=5000).flatmap(
        lambda depth: st.sampled_from(
            [b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth]
        )
    )


def hostile_messages(shaped: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes | None]:
    """Anything: arbitrary bytes, hostile JSON shaped like the message, deep nesting, empty."""
    return st.one_of(st.binary(max_size=200), shaped, deep_nesting(), st.just(b""), st.none())
