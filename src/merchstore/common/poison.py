"""Poison messages: what retrying cannot fix is set aside with its reason; the rest is retried.

Every consumer of merchstore (storage, the event-logger, logging-service's spill drain, the
outbox relay) hands its batches through here. A batch is first handled whole (the fast path).
If that fails with an error its ``PoisonPolicy`` calls permanent (the message cannot be parsed,
is invalid, too deep, too large, or the database refuses its data), the batch is handled one
item at a time and each item that still fails permanently is set aside with the reason, so the
good items around it are kept and consumption moves on. Any other error (a database or broker
that is down) propagates: the caller retries the whole batch with back-off and sets nothing
aside. Handlers must therefore tolerate seeing an item again (they are idempotent).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from merchstore.common.clean_text import FORBIDDEN_TEXT

log = logging.getLogger(__name__)

Item = TypeVar("Item")

MAX_REASON_CHARS = 500
"""Reasons are kept short and printable: they are stored and logged."""


class Unfixable(Exception):
    """Raised by a handler for an item that no retry can ever store."""


@dataclass(frozen=True)
class PoisonPolicy:
    """Which errors mean "this item can never be handled" for one consumer."""

    permanent: tuple[type[BaseException], ...] = ()

    def is_permanent(self, error: BaseException) -> bool:
        """Whether retrying ``error`` can never succeed."""
        # Too deep to parse or too large to encode is a property of the item, never transient.
        return isinstance(error, (Unfixable, RecursionError, UnicodeError, *self.permanent))


def reason_of(error: BaseException) -> str:
    """A short, printable reason for a set-aside item: the error's type and message."""
    text = f"{type(error).__name__}: {error}"
    text = FORBIDDEN_TEXT.sub("?", text)
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def handle_or_set_aside(
    items: Sequence[Item],
    handle: Callable[[Sequence[Item]], object],
    set_aside: Callable[[Item, str], None],
    policy: PoisonPolicy,
) -> int:
    """Handle ``items``; set aside each one that fails permanently; return how many were.

    A transient error propagates (nothing is set aside for it).
    """
    try:
        handle(items)
        return 0
    except Exception as error:
        if not policy.is_permanent(error):
            raise
        if len(items) == 1:
            set_aside(items[0], reason_of(error))
            return 1
        log.info("a batch of %d failed permanently (%s); one at a time", len(items), error)
    set_aside_count = 0
    for item in items:
        try:
            handle([item])
        except Exception as error:
            if not policy.is_permanent(error):
                raise
            set_aside(item, reason_of(error))
            set_aside_count += 1
    return set_aside_count


async def handle_or_set_aside_async(
    items: Sequence[Item],
    handle: Callable[[Sequence[Item]], Awaitable[None]],
    set_aside: Callable[[Item, str], Awaitable[None]],
    policy: PoisonPolicy,
) -> int:
    """`handle_or_set_aside` for handlers that are coroutines."""
    try:
        await handle(items)
        return 0
    except Exception as error:
        if not policy.is_permanent(error):
            raise
        if len(items) == 1:
            await set_aside(items[0], reason_of(error))
            return 1
        log.info("a batch of %d failed permanently (%s); one at a time", len(items), error)
    set_aside_count = 0
    for item in items:
        try:
            await handle([item])
        except Exception as error:
            if not policy.is_permanent(error):
                raise
            await set_aside(item, reason_of(error))
            set_aside_count += 1
    return set_aside_count


@dataclass
class Progress:
    """Whether a consumer makes progress: for ``/health`` and for its log.

    A quiet topic is not a failure: only consecutive failed attempts count, from the first.
    """

    failing_since: float | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    processed: int = 0
    set_aside: int = 0
    _clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def succeeded(self, processed: int, set_aside: int) -> None:
        """An attempt stored what it had read."""
        self.failing_since = None
        self.last_error = None
        self.consecutive_failures = 0
        self.processed += processed
        self.set_aside += set_aside

    def failed(self, error: BaseException) -> None:
        """An attempt failed (transiently); it will be retried."""
        if self.failing_since is None:
            self.failing_since = self._clock()
        self.consecutive_failures += 1
        self.last_error = reason_of(error)

    def backoff_s(self, base_s: float, max_s: float = 10.0) -> float:
        """The pause before the next attempt: doubling with each failure, up to ``max_s``."""
        return doubling_backoff_s(base_s, self.consecutive_failures, max_s)

    def stalled(self, after_s: float) -> str | None:
        """Why the consumer is stalled, if every attempt failed for ``after_s`` or longer."""
        if self.failing_since is None:
            return None
        failing_for = self._clock() - self.failing_since
        if failing_for < after_s:
            return None
        return (
            f"no progress for {failing_for:.0f} s ({self.consecutive_failures} failed "
            f"attempts); last error: {self.last_error}"
        )


def doubling_backoff_s(base_s: float, failures: int, max_s: float) -> float:
    """The pause after ``failures`` failures in a row: ``base_s``, doubling each time, capped.

    The one back-off rule of merchstore: consumers, the outbox relay and the log shipper
    retry by it.
    """
    return float(min(base_s * 2 ** max(failures - 1, 0), max_s))
