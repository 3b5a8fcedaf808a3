"""Periodic clean-up: expired sessions and stale throttle counters.

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
    if expired or stale:
        log.info("maintenance: removed %d expired sessions, %d throttle windows", expired, stale)


async def run_maintenance(services: Services, interval: float = INTERVAL_SECONDS) -> None:
    while True:
        try:
            await run_once(services)
        except Exception:
            log.exception("maintenance failed; trying again later")
        await asyncio.sleep(interval)
