"""The edge check every HTTP service shares: body size and forbidden characters.

A body over the limit is answered 413; text containing a control character (U+0000 to U+001F,
U+007F) or an unpaired surrogate, in the path, the query or any JSON string or key, is
answered 422; a body that is not UTF-8 is answered 422. All before a route sees the request,
so no handler, database or topic ever receives such text. Answers are JSON with a ``detail``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from merchstore.common.clean_text import FORBIDDEN_TEXT

MAX_JSON_DEPTH = 64
"""JSON nested deeper than this is refused (no model of ours nests more than a few levels)."""


_WORTH_DECODING = re.compile(rb"[\\\x00-\x1f\x7f]")
"""Bytes without which a JSON text cannot carry forbidden text: a backslash (every escape,
``\\u0000`` and ``\\t`` alike) or a raw control byte (compact JSON has none at all)."""


class ForbiddenInput(ValueError):
    """Request text the services refuse; the message says where and why."""


def describe_character(char: str) -> str:
    """A printable name for a refused character, e.g. ``U+0000``."""
    return f"U+{ord(char):04X}"


def check_text(text: str, where: str) -> None:
    """Raise ForbiddenInput if ``text`` holds a control character or an unpaired surrogate."""
    found = FORBIDDEN_TEXT.search(text)
    if found is not None:
        surrogate = 0xD800 <= ord(found.group()) <= 0xDFFF
        kind = "an unpaired surrogate" if surrogate else "a control character"
        raise ForbiddenInput(
            f"{where} contains {kind} ({describe_character(found.group())}), "
            "which is not accepted in any text field"
        )


def check_json_value(value: Any, where: str = "body", depth: int = 0) -> None:
    """Check every string and key of a decoded JSON document, refusing deep nesting."""
    if depth > MAX_JSON_DEPTH:
        raise ForbiddenInput(f"{where} is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, f"{where} key {key[:32]!r}")
            check_json_value(item, f"{where}.{key[:32]}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_json_value(item, f"{where}[{index}]", depth + 1)


def check_json_body(body: bytes) -> None:
    """Check a request body: UTF-8, and no forbidden text in any JSON string.

    A body that is not valid JSON is left to the route's own parser (which answers 422 with
    where the syntax breaks); only what would reach a handler as text is checked here.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ForbiddenInput(f"the body is not UTF-8 (byte {error.start})") from None
    if (
        _WORTH_DECODING.search(body) is None
        and body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH
    ):
        # Strict UTF-8 holds no surrogate, so with neither escapes nor control bytes nothing
        # forbidden can be in there, and with this few brackets nothing can be nested too
        # deep: no need to decode it.
        return
    try:
        document = json.loads(text)
    except RecursionError:
        raise ForbiddenInput(f"the body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        return
    check_json_value(document)


def check_target(path: str, query_string: bytes) -> None:
    """Check the decoded path and every query name and value."""
    check_text(path, "the path")
    if not query_string:
        return
    try:
        query = query_string.decode("utf-8")
    except UnicodeDecodeError:
        raise ForbiddenInput("the query string is not UTF-8") from None
    for name, value in parse_qsl(query, keep_blank_values=True, errors="surrogateescape"):
        check_text(name, "a query parameter name")
        check_text(value, f"query parameter {name[:32]!r}")


class RequestGuard:
    """ASGI middleware: 413 for bodies over ``max_body_bytes``, 422 for forbidden text."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then hand it (with its body replayed) to the application."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_target(scope.get("path", ""), scope.get("query_string", b""))
        except ForbiddenInput as error:
            await _answer(send, 422, str(error))
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _answer(send, 413, self._too_large())
            return
        body, more_messages = await self._read_body(receive)
        if body is None:
            await _answer(send, 413, self._too_large())
            return
        if body:
            try:
                check_json_body(body)
            except ForbiddenInput as error:
                await _answer(send, 422, str(error))
                return
        await self.app(scope, _replay(body, more_messages, receive), send)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body_bytes // 1024} KiB"

    async def _read_body(self, receive: Receive) -> tuple[bytes | None, list[Message]]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away: let the application see the disconnect.
                return b"".join(chunks), [message]
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None, []
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), []


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, more_messages: list[Message], receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if more_messages:
            return more_messages.pop(0)
        return await receive()

    return replay


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
