"""Login throttling: too many failures for one account or from one address get 429."""

from datetime import datetime, timedelta

from gkchat.clock import Clock
from gkchat.db.engine import Database
from gkchat.db.repos import throttle as repo
from gkchat.domain.errors import RateLimited


def _seconds_until_free(
    window: tuple[datetime, int] | None, now: datetime, length: timedelta, limit: int
) -> int | None:
    """How long until a key whose window is ``window`` (start, count) may try again; None
    while it is under ``limit`` in the current window."""
    if window is None:
        return None
    started, count = window
    ends = started + length
    if now < ends and count >= limit:
        return int((ends - now).total_seconds()) + 1
    return None


class LoginThrottle:
    """Counts failed logins per key in fixed windows stored in the database.

    Counting in the database keeps the limit right with several server processes or nodes;
    failures are rare, so the extra writes cost nothing on the hot path.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        enabled: bool,
        window: timedelta,
        max_per_account: int,
        max_per_address: int,
    ) -> None:
        self._db = db
        self._clock = clock
        self._enabled = enabled
        self._window = window
        self._limits = {"account": max_per_account, "address": max_per_address}

    @staticmethod
    def keys(*, account: str, address: str | None) -> dict[str, str]:
        keys = {"account": f"login:account:{account}"}
        if address:
            keys["address"] = f"login:address:{address}"
        return keys

    async def check(self, keys: dict[str, str]) -> None:
        """Raise RateLimited while any key has used up its failures for the current window."""
        if not self._enabled:
            return
        now = self._clock.now()
        async with self._db.read() as conn:
            for kind, key in keys.items():
                window = await repo.get_window(conn, key)
                wait = _seconds_until_free(window, now, self._window, self._limits[kind])
                if wait is not None:
                    raise RateLimited(
                        "Too many failed sign-in attempts; try again later.",
                        retry_after=wait,
                        code="too_many_attempts",
                    )

    async def record_failure(self, keys: dict[str, str]) -> None:
        if not self._enabled:
            return
        now = self._clock.now()
        async with self._db.write() as conn:
            for key in keys.values():
                await repo.add_failure(
                    self._db, conn, key, now=now, stale_before=now - self._window
                )

    async def forget(self, key: str) -> None:
        """Clear a key's failures (the account's owner signed in)."""
        if not self._enabled:
            return
        async with self._db.write() as conn:
            await repo.reset(conn, key)


class RegistrationThrottle:
    """Counts sign-ups per client address in fixed windows stored in the database.

    Every attempt that gets as far as hashing a password counts, successful or not: creating
    accounts in bulk (or probing which names are taken) from one address is what it stops.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        enabled: bool,
        window: timedelta,
        max_per_address: int,
    ) -> None:
        self._db = db
        self._clock = clock
        self._enabled = enabled
        self._window = window
        self._max = max_per_address

    async def hit(self, address: str | None) -> None:
        """Count one sign-up from ``address``, or raise RateLimited if its budget is used up."""
        if not self._enabled or not address:
            return
        key = f"register:address:{address}"
        now = self._clock.now()
        async with self._db.read() as conn:
            window = await repo.get_window(conn, key)
        wait = _seconds_until_free(window, now, self._window, self._max)
        if wait is not None:
            raise RateLimited(
                "Too many sign-ups from this address; try again later.",
                retry_after=wait,
                code="too_many_attempts",
            )
        async with self._db.write() as conn:
            await repo.add_failure(self._db, conn, key, now=now, stale_before=now - self._window)
