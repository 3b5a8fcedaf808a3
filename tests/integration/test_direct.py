"""``db.direct``: the send path's statements, compiled once and run on the driver's handle,
read back as SQLAlchemy would give them, on each database."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError

from gkchat.db.direct import Statement, bulk_insert
from gkchat.db.engine import Database, pairs_value, select_by_pairs
from gkchat.db.repos.messages import advance_conversations
from gkchat.db.repos.stream import _ALLOCATE as ALLOCATE
from gkchat.db.tables import conversations, users
from gkchat.domain.ids import new_id

USERS = bulk_insert(
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
        await USERS.run_each(conn, [user_row(f"bulk{i}", AT, seen[i]) for i in range(5)])

    assert await stored(db) == {f"bulk{i}": (AT, seen[i], False) for i in range(5)}


async def test_times_in_other_zones_are_stored_as_their_utc_instant(db: Database) -> None:
    """A time given with another offset is the same instant when read back."""
    plus_two = AT.astimezone(timezone(timedelta(hours=2)))
    async with db.write() as conn:
        await USERS.run_each(conn, [user_row("zoned", plus_two, AT), user_row("utc", AT, None)])

    found = await stored(db)
    assert found["zoned"][0] == AT
    assert found["zoned"][0].utcoffset() == timedelta(0)
    assert found["utc"][0] == AT


async def test_naive_times_are_refused(db: Database) -> None:
    """A naive datetime is refused, as with every other write of a time column."""
    async with db.write() as conn:
        with pytest.raises(ValueError, match="naive"):
            await USERS.run_each(conn, [user_row("naive", AT.replace(tzinfo=None), None)])


async def test_no_rows_is_a_no_op(db: Database) -> None:
    """An empty batch writes nothing."""
    async with db.write() as conn:
        await USERS.run_each(conn, [])

    assert await stored(db) == {}


def test_an_unknown_column_is_refused_when_declared() -> None:
    """A column the table does not have is a mistake caught at import time, not at run time."""
    with pytest.raises(ValueError, match="no column"):
        bulk_insert(users, ("id", "nickname"))


async def test_a_time_on_a_whole_second_matches_a_query_for_it(db: Database) -> None:
    """A time with no microseconds is stored as every other statement writes it, so a query
    comparing the column with that time finds the row (pagination cursors depend on it)."""
    whole = AT.replace(microsecond=0)
    async with db.write() as conn:
        await USERS.run_each(conn, [user_row("whole", whole, None)])

    async with db.read() as conn:
        query = select(users.c.username).where(users.c.created_at == whole)
        assert list((await conn.execute(query)).scalars()) == ["whole"]


# Statement


def _users_named() -> Statement:
    return Statement(
        lambda dialect: select_by_pairs(
            dialect,
            (users.c.username, users.c.created_at, users.c.disabled),
            users.c.username,
            users.c.email,
            "pairs",
            share_lock=True,  # rows in the pairs' order
        ),
        ("pairs",),
    )


SEEN = Statement(
    lambda _dialect: (
        update(users)
        .where(users.c.username == bindparam("name"))
        .values(last_seen_at=bindparam("seen"))
    ),
    ("name", "seen"),
)


async def add_users(db: Database, *names: str, at: datetime = AT) -> list[str]:
    rows = [user_row(name, at, None) for name in names]
    async with db.write() as conn:
        await USERS.run_each(conn, rows)
    return [str(row[0]) for row in rows]


async def add_users_in_one_write(db: Database, *names: str) -> None:
    async with db.write() as conn:
        for name in names:
            await USERS.run_each(conn, [user_row(name, AT, None)])


async def test_rows_come_back_as_tuples_with_their_types(db: Database) -> None:
    """A query's rows are plain tuples in its column order, times as aware UTC datetimes and
    booleans as bools, as SQLAlchemy would give them."""
    await add_users(db, "ann", "bob", "cyd", at=AT.replace(microsecond=0))
    pairs = pairs_value({("bob", "bob@example.com"), ("ann", "ann@example.com")})

    async with db.write() as conn:
        rows = await _users_named().rows(conn, (pairs,))

    assert rows == [
        ("ann", AT.replace(microsecond=0), False),
        ("bob", AT.replace(microsecond=0), False),
    ]
    assert all(type(row) is tuple and row[1].tzinfo == UTC for row in rows)


async def test_rows_each_gives_every_execution_rows(db: Database) -> None:
    """A RETURNING upsert run for each row of values gives every row's result (the stream
    position upsert's), as if run one row at a time."""
    a, b = sorted(await add_users(db, "ann", "bob"))
    async with db.write() as conn:
        first = await ALLOCATE.rows_each(conn, [(a, 2)])
        second = await ALLOCATE.rows_each(conn, [(a, 3), (b, 1)])

    assert first == [(a, 2)]
    assert sorted(second) == [(a, 5), (b, 1)]


async def test_rows_each_of_many_rows_stores_what_one_at_a_time_would(db: Database) -> None:
    """Many rows (on SQLite, sent as one JSON array) insert and update as one execution per
    row would, times included: a whole-second time is found by a query for it."""
    ids = sorted(await add_users(db, *(f"user{i}" for i in range(10))))
    pairs = [(ids[i], ids[i + 1]) for i in range(0, 10, 2)]
    whole = AT.replace(microsecond=0)
    async with db.write() as conn:
        await advance_conversations(
            conn, dict.fromkeys(pairs, 3), last_message_ids=dict.fromkeys(pairs, "m1"), at=AT
        )
        again = await advance_conversations(
            conn, dict.fromkeys(pairs, 2), last_message_ids=dict.fromkeys(pairs, "m2"), at=whole
        )

    assert again == dict.fromkeys(pairs, 4)
    async with db.read() as conn:
        query = select(
            conversations.c.user_id1,
            conversations.c.user_id2,
            conversations.c.last_seq,
            conversations.c.last_message_id,
        ).where(conversations.c.last_activity_at == whole)
        assert sorted(tuple(row) for row in await conn.execute(query)) == [
            (*p, 5, "m2") for p in pairs
        ]


async def test_run_each_writes_every_parameter_set(db: Database) -> None:
    """An UPDATE run for many parameter sets changes each row, times bound as every other
    statement binds them."""
    await add_users(db, "ann", "bob")
    whole = AT.replace(microsecond=0)
    async with db.write() as conn:
        await SEEN.run_each(conn, [("ann", whole), ("bob", AT)])

    found = await stored(db)
    assert (found["ann"][1], found["bob"][1]) == (whole, AT)
    async with db.read() as conn:
        query = select(users.c.username).where(users.c.last_seen_at == whole)
        assert list((await conn.execute(query)).scalars()) == ["ann"]


async def test_no_parameter_sets_is_a_no_op(db: Database) -> None:
    """Empty parameter lists run nothing and return no rows."""
    async with db.write() as conn:
        assert await ALLOCATE.rows_each(conn, []) == []
        await SEEN.run_each(conn, [])


async def test_a_constraint_violation_is_sqlalchemys_integrity_error(db: Database) -> None:
    """A duplicate key fails as SQLAlchemy's IntegrityError (the send path retries on it),
    and the transaction's other writes are rolled back."""
    await add_users(db, "ann")
    with pytest.raises(IntegrityError):
        await add_users_in_one_write(db, "bob", "ann")

    assert set(await stored(db)) == {"ann"}


async def test_outside_a_write_transaction_is_refused(db: Database) -> None:
    """Outside ``Database.write`` a direct statement raises instead of running in autocommit
    mode."""
    async with db.read() as conn:
        with pytest.raises(RuntimeError, match=r"inside Database\.write"):
            await _users_named().rows(conn, (pairs_value(set()),))


def test_a_parameter_not_declared_is_refused() -> None:
    """A statement that takes a parameter its declaration leaves out is a mistake caught when
    it is first compiled."""
    statement = Statement(lambda _dialect: SEEN.statement("sqlite"), ("name",))
    with pytest.raises(ValueError, match="'seen' not declared"):
        statement.form(sqlite.dialect())


def test_a_declared_parameter_the_statement_lacks_is_refused() -> None:
    """Declaring a parameter the statement does not take is a mistake caught when it is first
    compiled, not a value silently dropped."""
    statement = Statement(lambda _dialect: SEEN.statement("sqlite"), ("name", "seen", "extra"))
    with pytest.raises(ValueError, match=r"no parameter.*extra"):
        statement.form(sqlite.dialect())
