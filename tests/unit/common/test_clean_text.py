"""Control characters in log lines: written as escapes, so a terminal shows what was sent."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from merchstore.common.clean_text import FORBIDDEN_TEXT, escape_controls


def test_terminal_escapes_and_newlines_are_written_as_escapes() -> None:
    sent = "/\x1b]0;x\x07\nFAKE\r\t\x00\x7f"
    assert escape_controls(sent) == "/\\x1b]0;x\\x07\\nFAKE\\r\\t\\x00\\x7f"


@given(st.text())
def test_no_control_character_is_left_and_other_text_is_kept(text: str) -> None:
    escaped = escape_controls(text)
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in escaped)
    if FORBIDDEN_TEXT.search(text) is None:
        assert escaped == text
