"""Group commit for small keyed updates: everything queued meanwhile in one transaction.

A user's ``last_seen`` when their last socket closes, a session's last use when it signs a
socket in: one row each, but one transaction and one fsync each too. A burst of them (10,000
sockets dropped by a network blip, then reconnecting) queued 10,000 write transactions, about
0.7 ms each on SQLite, in front of every message send: acks waited seconds. Here the callers
of ``put`` wait, as before, until their update has committed, but share the transactions:
one per ``_MAX_BATCH`` keys, a later value for a key replacing an earlier one still queued.
"""

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db.engine import Database

Write = Callable[[AsyncConnection, dict[str, datetime]], Awaitable[None]]

_MAX_BATCH = 1000  # keys per transaction: bounds how long one runs inline on the loop


class GroupedUpdates:
    def __init__(self, db: Database, write: Write) -> None:
        self._db = db
        self._write = write
        self._pending: dict[str, datetime] = {}
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def put(self, key: str, value: datetime) -> None:
        """Set ``key`` to ``value``; return once that has committed (raise if it failed)."""
        self._pending[key] = value
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(waiter)
        if self._task is None:
            self._task = asyncio.create_task(self._flush())
        await waiter

    async def _flush(self) -> None:
        try:
            while self._pending:
                keys = list(itertools.islice(self._pending, _MAX_BATCH))
                batch = {key: self._pending.pop(key) for key in keys}
                waiters = [w for key in keys for w in self._waiters.pop(key, ())]
                try:
                    async with self._db.write() as conn:
                        await self._write(conn, batch)
                except Exception as exc:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                else:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_result(None)
        finally:
            self._task = None
