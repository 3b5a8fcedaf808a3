"""Sessions: one row per login, found by the SHA-256 of its token."""

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db.engine import ids_in, ids_value
from gkchat.db.tables import sessions, users
from gkchat.domain.models import Session, User

_SESSION_COLUMNS = (
    sessions.c.id,
    sessions.c.user_id,
    sessions.c.created_at,
    sessions.c.expires_at,
    sessions.c.last_used_at,
    sessions.c.user_agent,
)


def _session(row: Row[*tuple[Any, ...]]) -> Session:
    return Session(
        id=row.id,
        user_id=row.user_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        user_agent=row.user_agent,
    )


async def insert_session(conn: AsyncConnection, session: Session, *, token_hash: str) -> None:
    await conn.execute(
        sessions.insert().values(
            id=session.id,
            user_id=session.user_id,
            token_hash=token_hash,
            created_at=session.created_at,
            expires_at=session.expires_at,
            last_used_at=session.last_used_at,
            user_agent=session.user_agent,
        )
    )


# Built once: every authenticated request runs it, and building a select costs more than
# SQLite's lookup.
_BY_TOKEN_HASH = (
    select(
        *_SESSION_COLUMNS,
        users.c.username,
        users.c.email,
        users.c.created_at.label("user_created_at"),
        users.c.disabled,
    )
    .join(users, users.c.id == sessions.c.user_id)
    .where(sessions.c.token_hash == bindparam("token_hash"))
)


async def find_by_token_hash(conn: AsyncConnection, token_hash: str) -> tuple[Session, User] | None:
    row = (await conn.execute(_BY_TOKEN_HASH, {"token_hash": token_hash})).first()
    if row is None:
        return None
    user = User(
        id=row.user_id,
        username=row.username,
        email=row.email,
        created_at=row.user_created_at,
        disabled=bool(row.disabled),
    )
    return _session(row), user


async def list_for_user(conn: AsyncConnection, user_id: str) -> list[Session]:
    query = (
        select(*_SESSION_COLUMNS)
        .where(sessions.c.user_id == user_id)
        .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
    )
    return [_session(row) for row in await conn.execute(query)]


_TOUCH = (
    update(sessions)
    .where(sessions.c.id == bindparam("b_id"))
    .values(last_used_at=bindparam("b_at"))
)


async def touch(conn: AsyncConnection, used: dict[str, datetime]) -> None:
    """Set each session's ``last_used_at``: ``{session_id: when}``, in one executemany."""
    if used:
        await conn.execute(_TOUCH, [{"b_id": s, "b_at": at} for s, at in used.items()])


async def delete_session(conn: AsyncConnection, *, session_id: str, user_id: str) -> bool:
    """Delete one of the user's sessions; False when the user has no such session."""
    result = await conn.execute(
        delete(sessions).where(sessions.c.id == session_id, sessions.c.user_id == user_id)
    )
    return result.rowcount > 0


async def delete_all_for_user(
    conn: AsyncConnection, user_id: str, *, except_session_id: str | None = None
) -> list[str]:
    """Delete the user's sessions (but one) and return the ids that were deleted."""
    condition = sessions.c.user_id == user_id
    if except_session_id is not None:
        condition = condition & (sessions.c.id != except_session_id)
    ids = list((await conn.execute(select(sessions.c.id).where(condition))).scalars())
    if ids:
        await conn.execute(delete(sessions).where(sessions.c.id.in_(ids)))
    return ids


async def delete_oldest_beyond(conn: AsyncConnection, user_id: str, *, keep: int) -> list[str]:
    """Keep only the user's ``keep`` newest sessions; return the ids of those deleted."""
    stale = (
        select(sessions.c.id)
        .where(sessions.c.user_id == user_id)
        .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
        .offset(keep)
    )
    ids = list((await conn.execute(stale)).scalars())
    if ids:
        await conn.execute(delete(sessions).where(sessions.c.id.in_(ids)))
    return ids


async def delete_expired(conn: AsyncConnection, *, now: datetime, idle_before: datetime) -> int:
    result = await conn.execute(
        delete(sessions).where(
            (sessions.c.expires_at <= now) | (sessions.c.last_used_at <= idle_before)
        )
    )
    return result.rowcount


@functools.cache
def _live_among(dialect: str) -> Select[Any]:
    return (
        select(sessions.c.id)
        .join(users, users.c.id == sessions.c.user_id)
        .where(
            ids_in(dialect, sessions.c.id, "ids"),
            sessions.c.expires_at > bindparam("now"),
            users.c.disabled.is_(False),
        )
    )


async def live_ids(conn: AsyncConnection, session_ids: list[str], *, now: datetime) -> set[str]:
    """Those of ``session_ids`` that still exist, have not expired and whose user is enabled."""
    dialect = conn.dialect.name
    query = _live_among(dialect)
    rows = await conn.scalars(query, {"ids": ids_value(dialect, session_ids), "now": now})
    return set(rows.all())
