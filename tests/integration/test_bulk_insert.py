"""``BulkInsert``: many rows as tuples through one precompiled statement, on each database."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gkchat.db.bulk import BulkInsert
from gkchat.db.engine import Database
from gkchat.db.tables import users
from gkchat.domain.ids import new_id

USERS = BulkInsert(
    users,
    (
        "id",
        "username",
        "username_key",
        "email",
        "email_key",
        "password_hash",
        "created_at",
        "last_seen_at",
    ),
)
AT = datetime(2026, 11, 24, 15, 30, 1, 123456, tzinfo=UTC)


def user_row(name: str, created_at: datetime, last_seen_at: datetime | None) -> tuple[object, ...]:
    email = f"{name}@example.com"
    return (new_id(), name, name, email, email, "hash", created_at, last_seen_at)


async def stored(db: Database) -> dict[str, tuple[datetime, datetime | None, bool]]:
    async with db.read() as conn:
        query = select(users.c.username, users.c.created_at, users.c.last_seen_at, users.c.disabled)
        rows = await conn.execute(query)
        return {r.username: (r.created_at, r.last_seen_at, r.disabled) for r in rows}


async def test_rows_read_back_as_written(db: Database) -> None:
    """Every row is stored; times come back as the same UTC instants, None as None, and
    columns left out take their defaults."""
    seen = [AT + timedelta(seconds=i) if i % 2 else None for i in range(5)]
    async with db.write() as conn:
        await USERS.execute(conn, [user_row(f"bulk{i}", AT, seen[i]) for i in range(5)])

    assert await stored(db) == {f"bulk{i}": (AT, seen[i], False) for i in range(5)}


async def test_times_in_other_zones_are_stored_as_their_utc_instant(db: Database) -> None:
    """A time given with another offset is the same instant when read back."""
    plus_two = AT.astimezone(timezone(timedelta(hours=2)))
    async with db.write() as conn:
        await USERS.execute(conn, [user_row("zoned", plus_two, AT), user_row("utc", AT, None)])

    found = await stored(db)
    assert found["zoned"][0] == AT
    assert found["zoned"][0].utcoffset() == timedelta(0)
    assert found["utc"][0] == AT


async def test_naive_times_are_refused(db: Database) -> None:
    """A naive datetime is refused, as with every other write of a time column."""
    async with db.write() as conn:
        with pytest.raises(ValueError, match="naive"):
            await USERS.execute(conn, [user_row("naive", AT.replace(tzinfo=None), None)])


async def test_no_rows_is_a_no_op(db: Database) -> None:
    """An empty batch writes nothing."""
    async with db.write() as conn:
        await USERS.execute(conn, [])

    assert await stored(db) == {}


def test_an_unknown_column_is_refused_when_declared() -> None:
    """A column the table does not have is a mistake caught at import time, not at run time."""
    with pytest.raises(ValueError, match="no column"):
        BulkInsert(users, ("id", "nickname"))


async def test_a_time_on_a_whole_second_matches_a_query_for_it(db: Database) -> None:
    """A time with no microseconds is stored as every other statement writes it, so a query
    comparing the column with that time finds the row (pagination cursors depend on it)."""
    whole = AT.replace(microsecond=0)
    async with db.write() as conn:
        await USERS.execute(conn, [user_row("whole", whole, None)])

    async with db.read() as conn:
        query = select(users.c.username).where(users.c.created_at == whole)
        assert list((await conn.execute(query)).scalars()) == ["whole"]
