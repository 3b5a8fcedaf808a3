"""Periodic clean-up: expired sessions, stale throttle counters, old read notifications.

Each step is an idempotent DELETE, so several server processes running it at once is harmless.
"""

import asyncio
import logging

from gkchat.db.repos import throttle
from gkchat.services.container import Services

log = logging.getLogger("gkchat.maintenance")
INTERVAL_SECONDS = 600


async def run_once(services: Services) -> None:
    expired = await services.sessions.delete_expired()
    now = services.clock.now()
    async with services.db.write() as conn:
        stale = await throttle.delete_stale(conn, stale_before=now - services.settings.login_window)
    pruned = await services.notifications.prune(retention=services.settings.notification_retention)
    if expired or stale or pruned:
        log.info(
            "maintenance: removed %d expired sessions, %d throttle windows, %d old notifications",
            expired,
            stale,
            pruned,
        )


async def run_maintenance(services: Services, interval: float = INTERVAL_SECONDS) -> None:
    while True:
        try:
            await run_once(services)
        except Exception:
            log.exception("maintenance failed; trying again later")
        await asyncio.sleep(interval)
