"""What stops a merchstore process gracefully, and waiting for it in the foreground."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""What stops any merchstore process gracefully: SIGTERM, Ctrl-C, and SIGHUP, which a terminal
sends when its window closes. Left to its default, SIGHUP would end a service or
``merchstore up`` at once, without a graceful stop."""


class StopRequested(Exception):
    """A stop signal arrived while the work under way had to be abandoned at once."""


@contextmanager
def stop_requests(interrupting: Callable[[], bool] = lambda: False) -> Iterator[threading.Event]:
    """While entered, a stop signal sets the event yielded; the old handlers come back after.

    For whatever runs until stopped in the foreground: ``merchstore up`` and the tails. The
    signals are :data:`STOP_SIGNALS`.

    While ``interrupting()`` is true (a long start, say), the signal also raises
    :class:`StopRequested` in the main thread, so the work under way is abandoned at once.
    """
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if interrupting():
            raise StopRequested

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
