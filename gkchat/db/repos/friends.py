"""Friendships, pending friend requests and blocks."""

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, case, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from gkchat.db.engine import Database
from gkchat.db.tables import blocks, friend_requests, friendships, users
from gkchat.domain.models import FriendRequest, Friendship, User
from gkchat.domain.pagination import Position

_from = users.alias("from_user")
_to = users.alias("to_user")


def ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _pair(table: Any, a: str, b: str) -> ColumnElement[bool]:
    low, high = ordered(a, b)
    return and_(table.c.user_id1 == low, table.c.user_id2 == high)


def _user_from(row: Row[*tuple[Any, ...]], prefix: str) -> User:
    return User(
        id=row._mapping[f"{prefix}id"],
        username=row._mapping[f"{prefix}username"],
        email=row._mapping[f"{prefix}email"],
        created_at=row._mapping[f"{prefix}created_at"],
        disabled=bool(row._mapping[f"{prefix}disabled"]),
    )


def _user_columns(alias: Any, prefix: str) -> list[Any]:
    return [
        alias.c.id.label(f"{prefix}id"),
        alias.c.username.label(f"{prefix}username"),
        alias.c.email.label(f"{prefix}email"),
        alias.c.created_at.label(f"{prefix}created_at"),
        alias.c.disabled.label(f"{prefix}disabled"),
    ]


async def lock_pair(conn: AsyncConnection, a: str, b: str) -> None:
    """Serialise every change between two users (PostgreSQL row locks; SQLite has one writer).

    ``FOR NO KEY UPDATE`` still lets other transactions insert rows that reference the users.
    """
    query = select(users.c.id).where(users.c.id.in_(ordered(a, b))).order_by(users.c.id)
    await conn.execute(query.with_for_update(key_share=True))


# Requests


def _request_query() -> Any:
    r = friend_requests
    return (
        select(r.c.id, r.c.created_at, *_user_columns(_from, "f_"), *_user_columns(_to, "t_"))
        .join(_from, _from.c.id == r.c.from_user_id)
        .join(_to, _to.c.id == r.c.to_user_id)
    )


def _request(row: Row[*tuple[Any, ...]]) -> FriendRequest:
    return FriendRequest(
        id=row.id,
        from_user=_user_from(row, "f_"),
        to_user=_user_from(row, "t_"),
        created_at=row.created_at,
    )


async def get_request(conn: AsyncConnection, request_id: str) -> FriendRequest | None:
    row = (await conn.execute(_request_query().where(friend_requests.c.id == request_id))).first()
    return _request(row) if row else None


async def request_between(conn: AsyncConnection, a: str, b: str) -> FriendRequest | None:
    """The pending request between two users, in either direction."""
    query = _request_query().where(_pair(friend_requests, a, b))
    row = (await conn.execute(query)).first()
    return _request(row) if row else None


async def insert_request(
    conn: AsyncConnection, *, request_id: str, from_user: User, to_user: User, created_at: datetime
) -> FriendRequest:
    low, high = ordered(from_user.id, to_user.id)
    await conn.execute(
        friend_requests.insert().values(
            id=request_id,
            from_user_id=from_user.id,
            to_user_id=to_user.id,
            user_id1=low,
            user_id2=high,
            created_at=created_at,
        )
    )
    return FriendRequest(id=request_id, from_user=from_user, to_user=to_user, created_at=created_at)


async def delete_request(conn: AsyncConnection, request_id: str) -> bool:
    result = await conn.execute(delete(friend_requests).where(friend_requests.c.id == request_id))
    return result.rowcount > 0


async def delete_requests_between(conn: AsyncConnection, a: str, b: str) -> None:
    await conn.execute(delete(friend_requests).where(_pair(friend_requests, a, b)))


async def list_requests(
    conn: AsyncConnection, user_id: str, *, incoming: bool, before: Position | None, limit: int
) -> list[FriendRequest]:
    r = friend_requests
    query = _request_query().where((r.c.to_user_id if incoming else r.c.from_user_id) == user_id)
    if before is not None:
        query = query.where(
            or_(r.c.created_at < before.at, and_(r.c.created_at == before.at, r.c.id < before.id))
        )
    query = query.order_by(r.c.created_at.desc(), r.c.id.desc()).limit(limit)
    return [_request(row) for row in await conn.execute(query)]


# Friendships


async def are_friends(conn: AsyncConnection, a: str, b: str) -> bool:
    query = select(exists().where(_pair(friendships, a, b)))
    return bool((await conn.execute(query)).scalar())


async def insert_friendship(conn: AsyncConnection, a: str, b: str, *, since: datetime) -> None:
    low, high = ordered(a, b)
    await conn.execute(friendships.insert().values(user_id1=low, user_id2=high, created_at=since))


async def delete_friendship(conn: AsyncConnection, a: str, b: str) -> bool:
    result = await conn.execute(delete(friendships).where(_pair(friendships, a, b)))
    return result.rowcount > 0


async def list_friends(
    conn: AsyncConnection, user_id: str, *, before: Position | None, limit: int
) -> list[Friendship]:
    f = friendships
    other_id = case((f.c.user_id1 == user_id, f.c.user_id2), else_=f.c.user_id1)
    query = (
        select(f.c.created_at.label("since"), *_user_columns(users, "u_"))
        .select_from(f.join(users, users.c.id == other_id))
        .where(or_(f.c.user_id1 == user_id, f.c.user_id2 == user_id))
    )
    if before is not None:
        query = query.where(
            or_(
                f.c.created_at < before.at,
                and_(f.c.created_at == before.at, users.c.id < before.id),
            )
        )
    query = query.order_by(f.c.created_at.desc(), users.c.id.desc()).limit(limit)
    return [
        Friendship(user=_user_from(row, "u_"), since=row.since) for row in await conn.execute(query)
    ]


# Blocks


async def is_blocked(conn: AsyncConnection, *, blocker_id: str, blocked_id: str) -> bool:
    query = select(
        exists().where(blocks.c.blocker_id == blocker_id, blocks.c.blocked_id == blocked_id)
    )
    return bool((await conn.execute(query)).scalar())


async def insert_block(
    db: Database, conn: AsyncConnection, *, blocker_id: str, blocked_id: str, at: datetime
) -> bool:
    """Record a block; False when it already existed."""
    stmt = (
        db.insert(blocks)
        .values(blocker_id=blocker_id, blocked_id=blocked_id, created_at=at)
        .on_conflict_do_nothing(index_elements=[blocks.c.blocker_id, blocks.c.blocked_id])
    )
    result = await conn.execute(stmt)
    return result.rowcount > 0


async def delete_block(conn: AsyncConnection, *, blocker_id: str, blocked_id: str) -> bool:
    result = await conn.execute(
        delete(blocks).where(blocks.c.blocker_id == blocker_id, blocks.c.blocked_id == blocked_id)
    )
    return result.rowcount > 0


async def list_blocked(
    conn: AsyncConnection, blocker_id: str, *, before: Position | None, limit: int
) -> list[tuple[User, datetime]]:
    b = blocks
    query = (
        select(b.c.created_at.label("blocked_at"), *_user_columns(users, "u_"))
        .join(users, users.c.id == b.c.blocked_id)
        .where(b.c.blocker_id == blocker_id)
    )
    if before is not None:
        query = query.where(
            or_(
                b.c.created_at < before.at,
                and_(b.c.created_at == before.at, users.c.id < before.id),
            )
        )
    query = query.order_by(b.c.created_at.desc(), users.c.id.desc()).limit(limit)
    return [(_user_from(row, "u_"), row.blocked_at) for row in await conn.execute(query)]


async def friend_ids(conn: AsyncConnection, user_id: str) -> list[str]:
    f = friendships
    other_id = case((f.c.user_id1 == user_id, f.c.user_id2), else_=f.c.user_id1)
    query = select(other_id).where(or_(f.c.user_id1 == user_id, f.c.user_id2 == user_id))
    return list((await conn.execute(query)).scalars())
