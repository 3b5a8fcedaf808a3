"""Per-user event streams: position allocation and the stored events."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db.direct import Statement, bulk_insert
from gkchat.db.engine import upsertable_insert
from gkchat.db.tables import events, stream_heads
from gkchat.domain.models import StreamEvent


def _allocate(dialect: str) -> Any:
    insert = upsertable_insert(dialect, stream_heads)
    return insert.on_conflict_do_update(
        index_elements=[stream_heads.c.user_id],
        set_={"seq": stream_heads.c.seq + insert.excluded.seq},
    ).returning(stream_heads.c.user_id, stream_heads.c.seq)


_ALLOCATE = Statement(_allocate, ("user_id", "seq"))


async def allocate(conn: AsyncConnection, counts: dict[str, int]) -> dict[str, int]:
    """Reserve ``counts[user]`` positions in each user's stream; return each user's first one.

    The upserts run in user id order: concurrent transactions lock stream heads in the same
    order and never deadlock. The row locks are held to commit, so a user's positions commit
    in the order they were given.

    The rows go as one statement of a fixed text (``Statement.rows_each``: one array per
    column on PostgreSQL, one JSON array on SQLite from a few rows on), processed in the
    order given.
    """
    if not counts:
        return {}
    rows = [(user_id, counts[user_id]) for user_id in sorted(counts)]
    allocated = await _ALLOCATE.rows_each(conn, rows)
    return {user_id: int(seq) - counts[user_id] + 1 for user_id, seq in allocated}


_INSERT_EVENTS = bulk_insert(events, ("user_id", "seq", "type", "data", "created_at"))


async def insert_events(conn: AsyncConnection, rows: Iterable[StreamEvent], at: datetime) -> None:
    await _INSERT_EVENTS.run_each(
        conn, [(e.user_id, e.seq, e.type, e.data_json(), at) for e in rows]
    )


async def head(conn: AsyncConnection, user_id: str) -> int:
    query = select(stream_heads.c.seq).where(stream_heads.c.user_id == user_id)
    return int((await conn.execute(query)).scalar_one_or_none() or 0)


_after = (
    select(events.c.seq, events.c.type, events.c.data)
    .where(events.c.user_id == bindparam("user_id"), events.c.seq > bindparam("after"))
    .order_by(events.c.seq)
)


async def read_after(
    conn: AsyncConnection, user_id: str, *, after: int, limit: int, upto: int | None = None
) -> list[StreamEvent]:
    query: Any = _after.limit(limit)
    if upto is not None:
        query = query.where(events.c.seq <= upto)
    rows = await conn.execute(query, {"user_id": user_id, "after": after})
    return [
        StreamEvent(user_id, int(r.seq), r.type, orjson.loads(r.data), encoded=r.data) for r in rows
    ]
