"""Fixed-window failure counters, shared by every server process through the database."""

from datetime import datetime

from sqlalchemy import Integer, case, delete, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db.engine import Database
from gkchat.db.tables import throttle_counters as counters
from gkchat.db.types import UTCDateTime


async def get_window(conn: AsyncConnection, key: str) -> tuple[datetime, int] | None:
    """The start of ``key``'s current window and the failures counted in it."""
    query = select(counters.c.window_start, counters.c.count).where(counters.c.key == key)
    row = (await conn.execute(query)).first()
    return (row[0], int(row[1])) if row else None


async def add_failure(
    db: Database, conn: AsyncConnection, key: str, *, now: datetime, stale_before: datetime
) -> None:
    """Count one failure for ``key``; a window that started before ``stale_before`` restarts."""
    stale = counters.c.window_start <= literal(stale_before, UTCDateTime())
    stmt = db.insert(counters).values(key=key, window_start=now, count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[counters.c.key],
        set_={
            "count": case((stale, literal(1, Integer())), else_=counters.c.count + 1),
            "window_start": case(
                (stale, literal(now, UTCDateTime())), else_=counters.c.window_start
            ),
        },
    )
    await conn.execute(stmt)


async def reset(conn: AsyncConnection, key: str) -> None:
    await conn.execute(delete(counters).where(counters.c.key == key))


async def delete_stale(conn: AsyncConnection, *, stale_before: datetime, prefix: str = "") -> int:
    """Delete the windows of keys starting with ``prefix`` that started before ``stale_before``."""
    query = delete(counters).where(counters.c.window_start <= stale_before)
    if prefix:
        query = query.where(counters.c.key.startswith(prefix, autoescape=True))
    result = await conn.execute(query)
    return result.rowcount
