"""Periodic clean-up: expired sessions, stale throttle counters, old read notifications.

It runs once per ``maintenance_interval`` across the whole cluster: every node looks now and
then, and the one that takes the database lease does the work. Each step is an idempotent
DELETE anyway, so an overlap (a node taken for gone that was only slow) is harmless.
"""

import asyncio
import logging
import os
import socket

from gkchat.db.repos import leases, throttle
from gkchat.services.container import Services

log = logging.getLogger("gkchat.maintenance")
LEASE = "maintenance"
CHECKS_PER_INTERVAL = 10
LONGEST_CHECK_SECONDS = 60.0


async def run_once(services: Services) -> None:
    expired = await services.sessions.delete_expired()
    now = services.clock.now()
    settings = services.settings
    async with services.db.write() as conn:
        stale = await throttle.delete_stale(
            conn, stale_before=now - settings.login_window, prefix="login:"
        )
        stale += await throttle.delete_stale(
            conn, stale_before=now - settings.register_window, prefix="register:"
        )
    pruned = await services.notifications.prune(retention=services.settings.notification_retention)
    if expired or stale or pruned:
        log.info(
            "maintenance: removed %d expired sessions, %d throttle windows, %d old notifications",
            expired,
            stale,
            pruned,
        )


async def claim_turn(services: Services, holder: str) -> bool:
    """Take the cluster's maintenance lease for one interval, if it is free."""
    now = services.clock.now()
    async with services.db.write() as conn:
        return await leases.claim(
            services.db,
            conn,
            LEASE,
            holder=holder,
            now=now,
            until=now + services.settings.maintenance_interval,
        )


async def run_maintenance(services: Services) -> None:
    holder = f"{socket.gethostname()}:{os.getpid()}"
    interval = services.settings.maintenance_interval.total_seconds()
    check_every = min(interval / CHECKS_PER_INTERVAL, LONGEST_CHECK_SECONDS)
    while True:
        try:
            if await claim_turn(services, holder):
                log.info("maintenance: this node (%s) runs the clean-up", holder)
                await run_once(services)
        except Exception:
            log.exception("maintenance failed; trying again later")
        await asyncio.sleep(check_every)
