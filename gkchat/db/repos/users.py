"""Users: lookups by id, username or email (case-insensitive), prefix search, creation."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db.tables import users
from gkchat.domain.errors import Conflict
from gkchat.domain.models import Credentials, User

_USER_COLUMNS = (users.c.id, users.c.username, users.c.email, users.c.created_at, users.c.disabled)


def _user(row: Row[*tuple[Any, ...]]) -> User:
    return User(
        id=row.id,
        username=row.username,
        email=row.email,
        created_at=row.created_at,
        disabled=bool(row.disabled),
    )


async def insert_user(
    conn: AsyncConnection,
    *,
    user_id: str,
    username: str,
    email: str,
    password_hash: str,
    created_at: datetime,
) -> User:
    """Insert a user; a taken username or email (ignoring case) is a Conflict."""
    try:
        async with conn.begin_nested():
            await conn.execute(
                users.insert().values(
                    id=user_id,
                    username=username,
                    username_key=username.lower(),
                    email=email,
                    email_key=email.lower(),
                    password_hash=password_hash,
                    created_at=created_at,
                    disabled=False,
                )
            )
    except IntegrityError as exc:
        if await _exists(conn, users.c.username_key == username.lower()):
            raise Conflict("That username is taken.", code="username_taken") from exc
        raise Conflict("That email address is already registered.", code="email_taken") from exc
    return User(id=user_id, username=username, email=email, created_at=created_at)


async def username_or_email_taken(conn: AsyncConnection, *, username: str, email: str) -> None:
    """Raise Conflict if either is taken (checked before the costly password hash)."""
    if await _exists(conn, users.c.username_key == username.lower()):
        raise Conflict("That username is taken.", code="username_taken")
    if await _exists(conn, users.c.email_key == email.lower()):
        raise Conflict("That email address is already registered.", code="email_taken")


async def _exists(conn: AsyncConnection, condition: object) -> bool:
    result = await conn.execute(select(users.c.id).where(condition).limit(1))  # type: ignore[arg-type]
    return result.first() is not None


async def get_user(conn: AsyncConnection, user_id: str) -> User | None:
    row = (await conn.execute(select(*_USER_COLUMNS).where(users.c.id == user_id))).first()
    return _user(row) if row else None


async def get_user_by_username(conn: AsyncConnection, username: str) -> User | None:
    query = select(*_USER_COLUMNS).where(users.c.username_key == username.lower())
    row = (await conn.execute(query)).first()
    return _user(row) if row else None


async def get_credentials(conn: AsyncConnection, login: str) -> Credentials | None:
    """Find a user by username or, when ``login`` contains ``@``, by email; both ignore case."""
    key = login.lower()
    column = users.c.email_key if "@" in login else users.c.username_key
    row = (
        await conn.execute(select(*_USER_COLUMNS, users.c.password_hash).where(column == key))
    ).first()
    return Credentials(user=_user(row), password_hash=row.password_hash) if row else None


async def set_password_hash(conn: AsyncConnection, user_id: str, password_hash: str) -> None:
    await conn.execute(
        update(users).where(users.c.id == user_id).values(password_hash=password_hash)
    )


async def search_by_prefix(conn: AsyncConnection, prefix: str, *, limit: int) -> list[User]:
    """Enabled users whose username starts with ``prefix`` (ignoring case), shortest first.

    A range on the lower-cased key (``key >= p AND key < p + U+FFFF``) uses the unique index,
    and unlike LIKE gives ``_`` no special meaning.
    """
    key = prefix.lower()
    query = (
        select(*_USER_COLUMNS)
        .where(users.c.username_key >= key, users.c.username_key < key + "\uffff")
        .where(users.c.disabled.is_(False))
        .order_by(func.length(users.c.username_key), users.c.username_key)
        .limit(limit)
    )
    return [_user(row) for row in await conn.execute(query)]


async def list_users(conn: AsyncConnection, *, limit: int, offset: int = 0) -> Sequence[User]:
    query = (
        select(*_USER_COLUMNS).order_by(users.c.created_at, users.c.id).limit(limit).offset(offset)
    )
    return [_user(row) for row in await conn.execute(query)]


async def set_disabled(conn: AsyncConnection, user_id: str, *, disabled: bool) -> None:
    await conn.execute(update(users).where(users.c.id == user_id).values(disabled=disabled))


_SET_LAST_SEEN = (
    update(users).where(users.c.id == bindparam("b_id")).values(last_seen_at=bindparam("b_at"))
)


async def set_last_seen(conn: AsyncConnection, seen: dict[str, datetime]) -> None:
    """Set each user's ``last_seen_at``: ``{user_id: when}``, in one executemany."""
    if seen:
        await conn.execute(_SET_LAST_SEEN, [{"b_id": u, "b_at": at} for u, at in seen.items()])


async def last_seen(conn: AsyncConnection, user_ids: list[str]) -> dict[str, datetime | None]:
    if not user_ids:
        return {}
    query = select(users.c.id, users.c.last_seen_at).where(users.c.id.in_(user_ids))
    return {row.id: row.last_seen_at for row in await conn.execute(query)}
