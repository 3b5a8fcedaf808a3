"""argon2id password hashing off the event loop, and the rules a new password must meet."""

import asyncio
import functools
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gkchat.domain.errors import InvalidInput, TooLarge

PASSWORD_MIN_LENGTH = 8
T = TypeVar("T")
# The niceness of hashing threads: the event loop (nice 0) gets the CPU whenever it wants it.
HASHING_NICENESS = 19


class PasswordHasher:
    """Hashes and verifies with argon2id in a small thread pool.

    argon2 releases the GIL while it works, so hashing on worker threads keeps the event loop
    (and message delivery) responsive during a login storm. On Linux the threads also run at
    the lowest CPU priority: where the server has a single core, the loop preempts a hash
    instead of sharing the core with it, and sign-ins take what CPU the loop leaves.
    """

    def __init__(
        self, *, time_cost: int, memory_kib: int, parallelism: int, threads: int = 2
    ) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._pool = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix="argon2", initializer=_yield_the_cpu
        )
        # Verified against when a login names no account, so that the answer takes as long.
        self._dummy_hash = self._argon2.hash("gkchat: no such account")
        # Load the common-password list now rather than on the event loop at the first sign-up
        # (about 20 ms of loop stall there, measured with bench's diagnostics).
        _common_passwords()

    async def hash(self, password: str) -> str:
        return await self._run(self._argon2.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; a missing hash costs the same time and is False."""
        return await self._run(self._verify_sync, password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._argon2.check_needs_rehash(password_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _verify_sync(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash or self._dummy_hash, password) and (
                password_hash is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, func, *args)


def _yield_the_cpu() -> None:
    """Lower the calling thread's CPU priority (Linux schedules threads one by one)."""
    if sys.platform == "linux":
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


@functools.cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships a maintained frequency list of the 30,000 most common leaked passwords.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(
        p.lower() for p in FREQUENCY_LISTS["passwords"] if len(p) >= PASSWORD_MIN_LENGTH
    )


def check_new_password(password: str, *, max_length: int, username: str, email: str) -> None:
    """Raise if ``password`` is too short, too long, too common or just the account's name."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidInput(
            f"Passwords need at least {PASSWORD_MIN_LENGTH} characters.", code="password_too_short"
        )
    if len(password) > max_length:
        raise TooLarge(
            f"Passwords may have at most {max_length} characters.", code="password_too_long"
        )
    lowered = password.lower()
    if lowered in _common_passwords():
        raise InvalidInput(
            "This password is among the most common ones; choose another.",
            code="password_too_common",
        )
    if lowered in (username.lower(), email.lower(), email.lower().split("@", 1)[0]):
        raise InvalidInput(
            "The password must not be your username or email address.",
            code="password_too_common",
        )
