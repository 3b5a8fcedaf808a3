"""Leases in the database: a named right to do something until a moment, held by one node."""

from datetime import datetime

from sqlalchemy import literal
from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db.engine import Database
from gkchat.db.tables import leases
from gkchat.db.types import UTCDateTime


async def claim(
    db: Database, conn: AsyncConnection, name: str, *, holder: str, now: datetime, until: datetime
) -> bool:
    """Take lease ``name`` until ``until`` if nobody holds it at ``now``; True if taken.

    One statement, so that of several nodes claiming at once exactly one wins.
    """
    insert = db.insert(leases).values(name=name, holder=holder, expires_at=until)
    stmt = insert.on_conflict_do_update(
        index_elements=[leases.c.name],
        set_={"holder": holder, "expires_at": until},
        where=leases.c.expires_at <= literal(now, UTCDateTime()),
    ).returning(leases.c.holder)
    return (await conn.execute(stmt)).first() is not None
