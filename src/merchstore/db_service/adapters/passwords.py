"""Password hashing with argon2; hashes never leave db-service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from merchstore.db_service.domain import Busy

T = TypeVar("T")

_hasher = PasswordHasher()
# Verifying against this when the user does not exist takes as long as a real check,
# so response times do not reveal which usernames exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; a missing hash is checked against a dummy one."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class PasswordWork:
    """Hashing and verifying in threads, at most ``max_concurrent`` at once.

    Each argon2 call costs tens of MiB and milliseconds of CPU. Up to ``max_waiting`` calls
    wait for a free slot; one more is refused at once with `Busy` (never queued for ever), so
    a burst of logins cannot starve every other store call of threads and memory.
    """

    def __init__(self, max_concurrent: int, max_waiting: int) -> None:
        self._slots = asyncio.Semaphore(max_concurrent)
        self._max_waiting = max_waiting
        self._waiting = 0

    async def _run(self, work: Callable[[], T]) -> T:
        if self._slots.locked() and self._waiting >= self._max_waiting:
            raise Busy("too many passwords are being checked at once; retry in a moment")
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await asyncio.to_thread(work)
        finally:
            self._slots.release()

    async def hash(self, password: str) -> str:
        """`hash_password` within the bound."""
        return await self._run(lambda: hash_password(password))

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """`verify_password` within the bound."""
        return await self._run(lambda: verify_password(password_hash, password))
