"""Closes the sockets of sessions that died where no hub message could say so.

Logging out, revoking a session, disabling an account and evicting the oldest session at a
sign-in beyond ``GKCHAT_MAX_SESSIONS_PER_USER`` close their sockets at once through the hub. A
session can also die without that news reaching this process: it passes its hard expiry, or
``gkchat user disable`` runs in another process with the in-memory hub. Every
``GKCHAT_WS_SESSION_CHECK_INTERVAL`` this asks the database which sessions of the open sockets
are still alive and closes the others with 4401.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from gkchat.realtime.registry import CLOSE_SESSION_REVOKED, ConnectionRegistry

log = logging.getLogger("gkchat.realtime")

LiveIds = Callable[[list[str]], Awaitable[set[str]]]


class SessionWatch:
    def __init__(
        self, registry: ConnectionRegistry, live_ids: LiveIds, *, interval: timedelta
    ) -> None:
        self._registry = registry
        self._live_ids = live_ids
        self._interval = interval.total_seconds()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ws-session-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def check_once(self) -> int:
        """Close the sockets whose session is no longer alive; return how many were closed."""
        connections = [c for c in self._registry.all() if not c.closed]
        if not connections:
            return 0
        live = await self._live_ids(sorted({c.session_id for c in connections}))
        dead = [c for c in connections if c.session_id not in live]
        for connection in dead:
            connection.close(CLOSE_SESSION_REVOKED, "session ended")
        return len(dead)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.check_once()
            except Exception:
                log.exception("checking the sessions of open sockets failed")
