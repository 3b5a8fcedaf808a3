"""Stored notifications and per-conversation mutes."""

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db.direct import Statement, bulk_insert
from gkchat.db.engine import Database, ids_in, ids_value, pairs_value, select_by_pairs
from gkchat.db.tables import mutes, notifications, users
from gkchat.domain.models import Notification
from gkchat.domain.pagination import Position

n = notifications
# The type as a literal, never a parameter: a statement that compares ``type`` with a bound
# value cannot be planned for the partial index on unread ``message`` notifications until the
# value is known, so SQLite prepared it anew on every execution (105 against 23 us for one
# pair), and a generic PostgreSQL plan could not use that index at all.
_IS_MESSAGE = n.c.type == literal_column("'message'")
_COLUMNS = (
    n.c.id,
    n.c.user_id,
    n.c.type,
    n.c.reference_id,
    n.c.content,
    n.c.created_at,
    n.c.read_at,
    n.c.actor_id,
    n.c.count,
)


def _notification(row: Row[*tuple[Any, ...]]) -> Notification:
    return Notification(
        id=row.id,
        user_id=row.user_id,
        type=row.type,
        reference_id=row.reference_id,
        content=row.content,
        created_at=row.created_at,
        read_at=row.read_at,
        actor_id=row.actor_id,
        count=int(row._mapping["count"]),
    )


async def insert(conn: AsyncConnection, notification: Notification) -> None:
    await insert_all(conn, [notification])


_INSERT = bulk_insert(
    n, ("id", "user_id", "type", "reference_id", "content", "created_at", "actor_id", "count")
)


async def insert_all(conn: AsyncConnection, created: list[Notification]) -> None:
    rows = [
        (x.id, x.user_id, x.type, x.reference_id, x.content, x.created_at, x.actor_id, x.count)
        for x in created
    ]
    await _INSERT.run_each(conn, rows)


_OPEN_BURSTS = Statement(
    lambda dialect: select_by_pairs(
        dialect,
        (n.c.user_id, n.c.actor_id, n.c.id, n.c.count),
        n.c.user_id,
        n.c.actor_id,
        "pairs",
        where=(_IS_MESSAGE, n.c.read_at.is_(None)),
    ),
    ("pairs",),
)


async def open_bursts(
    conn: AsyncConnection, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[str, int]]:
    """The (id, count) of each (user, actor) pair's unread ``message`` notification.

    Only what a bump cannot know: every other field of a bumped notification is set anew.
    """
    if not pairs:
        return {}
    rows = await _OPEN_BURSTS.rows(conn, (pairs_value(pairs),))
    return {(user_id, actor_id): (id_, int(count)) for user_id, actor_id, id_, count in rows}


_BUMP = Statement(
    lambda _dialect: (
        update(n)
        .where(n.c.id == bindparam("b_id"))
        .values(
            count=bindparam("b_count"),
            content=bindparam("b_content"),
            reference_id=bindparam("b_reference_id"),
            created_at=bindparam("b_created_at"),
        )
    ),
    ("b_id", "b_count", "b_content", "b_reference_id", "b_created_at"),
)


async def bump_all(conn: AsyncConnection, bumped: list[Notification]) -> None:
    """Store collapsed notifications' new counts, contents, references and times (one
    statement for all of them)."""
    rows = [(x.id, x.count, x.content, x.reference_id, x.created_at) for x in bumped]
    await _BUMP.run_each(conn, rows)


async def mark_read(
    conn: AsyncConnection,
    user_id: str,
    *,
    at: datetime,
    ids: list[str] | None = None,
    message_actor: str | None = None,
    reference_id: str | None = None,
) -> list[str]:
    """Mark unread notifications read (those named, from a message sender, about a
    reference, or all of them); return the ids that changed."""
    condition = and_(n.c.user_id == user_id, n.c.read_at.is_(None))
    if ids is not None:
        condition = and_(condition, n.c.id.in_(ids))
    if message_actor is not None:
        condition = and_(condition, _IS_MESSAGE, n.c.actor_id == message_actor)
    if reference_id is not None:
        condition = and_(condition, n.c.reference_id == reference_id)
    changed = list((await conn.execute(select(n.c.id).where(condition))).scalars())
    if changed:
        await conn.execute(update(n).where(n.c.id.in_(changed)).values(read_at=at))
    return changed


async def exists_for(conn: AsyncConnection, user_id: str, notification_id: str) -> bool:
    query = select(n.c.id).where(n.c.id == notification_id, n.c.user_id == user_id)
    return (await conn.execute(query)).first() is not None


async def list_for(
    conn: AsyncConnection, user_id: str, *, unread_only: bool, before: Position | None, limit: int
) -> list[Notification]:
    query = select(*_COLUMNS).where(n.c.user_id == user_id)
    if unread_only:
        query = query.where(n.c.read_at.is_(None))
    if before is not None:
        query = query.where(
            or_(n.c.created_at < before.at, and_(n.c.created_at == before.at, n.c.id < before.id))
        )
    query = query.order_by(n.c.created_at.desc(), n.c.id.desc()).limit(limit)
    return [_notification(row) for row in await conn.execute(query)]


async def unread_count(conn: AsyncConnection, user_id: str) -> int:
    query = select(func.count()).where(n.c.user_id == user_id, n.c.read_at.is_(None))
    return int((await conn.execute(query)).scalar_one())


async def delete_read_before(conn: AsyncConnection, before: datetime) -> int:
    result = await conn.execute(delete(n).where(n.c.read_at.is_not(None), n.c.read_at < before))
    return result.rowcount


@functools.cache
def _usernames(dialect: str) -> Select[Any]:
    return select(users.c.id, users.c.username).where(ids_in(dialect, users.c.id, "ids"))


async def usernames(conn: AsyncConnection, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    dialect = conn.dialect.name
    rows = await conn.execute(_usernames(dialect), {"ids": ids_value(dialect, ids)})
    return {row.id: row.username for row in rows}


# Mutes


_MUTED_PAIRS = Statement(
    lambda dialect: select_by_pairs(
        dialect, (mutes.c.user_id, mutes.c.peer_id), mutes.c.user_id, mutes.c.peer_id, "pairs"
    ),
    ("pairs",),
)


async def muted_pairs(conn: AsyncConnection, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (user, peer) pairs have the user muting the peer."""
    if not pairs:
        return set()
    rows = await _MUTED_PAIRS.rows(conn, (pairs_value(pairs),))
    return {(user_id, peer_id) for user_id, peer_id in rows}


async def mute(
    db: Database, conn: AsyncConnection, user_id: str, peer_id: str, at: datetime
) -> None:
    stmt = db.insert(mutes).values(user_id=user_id, peer_id=peer_id, created_at=at)
    await conn.execute(
        stmt.on_conflict_do_nothing(index_elements=[mutes.c.user_id, mutes.c.peer_id])
    )


async def unmute(conn: AsyncConnection, user_id: str, peer_id: str) -> None:
    await conn.execute(delete(mutes).where(mutes.c.user_id == user_id, mutes.c.peer_id == peer_id))


async def muted_peers(conn: AsyncConnection, user_id: str, peers: list[str]) -> set[str]:
    if not peers:
        return set()
    query = select(mutes.c.peer_id).where(mutes.c.user_id == user_id, mutes.c.peer_id.in_(peers))
    return set((await conn.execute(query)).scalars())
