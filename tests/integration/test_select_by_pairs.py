"""``select_by_pairs``: the rows whose (first, second) is one of the listed pairs, found by
each database exactly and through its index."""

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import ColumnElement

from gkchat.db.engine import Database, pairs_value, select_by_pairs
from gkchat.db.tables import mutes, users
from gkchat.domain.ids import new_id

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def store_mutes(db: Database, count: int) -> list[tuple[str, str]]:
    """``count`` (user, peer) mute rows between fresh users."""
    ids = [new_id() for _ in range(count * 2)]
    async with db.write() as conn:
        await conn.execute(
            users.insert(),
            [
                {
                    "id": i,
                    "username": i,
                    "username_key": i.lower(),
                    "email": f"{i}@example.test",
                    "email_key": f"{i}@example.test".lower(),
                    "password_hash": "-",
                    "created_at": NOW,
                    "disabled": False,
                }
                for i in ids
            ],
        )
        pairs = [(ids[2 * k], ids[2 * k + 1]) for k in range(count)]
        await conn.execute(
            mutes.insert(), [{"user_id": u, "peer_id": p, "created_at": NOW} for u, p in pairs]
        )
    return pairs


async def found_in_order(
    db: Database,
    pairs: list[tuple[str, str]],
    *,
    where: tuple[ColumnElement[bool], ...] = (),
    share_lock: bool = False,
) -> list[tuple[str, str]]:
    async with db.read() as conn:
        dialect = conn.dialect.name
        query = select_by_pairs(
            dialect,
            (mutes.c.user_id, mutes.c.peer_id),
            mutes.c.user_id,
            mutes.c.peer_id,
            "pairs",
            where=where,
            share_lock=share_lock,
        )
        rows = await conn.execute(query, {"pairs": pairs_value(pairs)})
        return [(row.user_id, row.peer_id) for row in rows]


async def found(db: Database, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    return set(await found_in_order(db, pairs))


async def test_listed_pairs_that_exist_are_found(db: Database) -> None:
    """Every listed pair that is stored comes back, and nothing else."""
    stored = await store_mutes(db, 4)

    assert await found(db, [stored[0], stored[2]]) == {stored[0], stored[2]}


async def test_crossed_halves_of_two_pairs_do_not_match(db: Database) -> None:
    """(a, b) and (c, d) stored: (a, d) is not found, though a and d each are."""
    stored = await store_mutes(db, 2)

    assert await found(db, [(stored[0][0], stored[1][1])]) == set()


async def test_no_pairs_match_nothing(db: Database) -> None:
    """An empty list is a valid condition that matches no row."""
    await store_mutes(db, 1)

    assert await found(db, []) == set()


async def test_a_pair_listed_twice_comes_back_once(db: Database) -> None:
    """Listing a pair twice finds its row once."""
    stored = await store_mutes(db, 2)

    assert await found_in_order(db, [stored[1], stored[1]]) == [stored[1]]


async def test_the_extra_conditions_hold_too(db: Database) -> None:
    """A listed pair whose row fails ``where`` is not found."""
    stored = await store_mutes(db, 2)

    rows = await found_in_order(db, stored, where=(mutes.c.user_id != stored[0][0],))

    assert rows == [stored[1]]


async def test_share_locked_rows_come_in_the_pairs_order(db: Database) -> None:
    """With ``share_lock``, the rows come out sorted by pair, the order they are locked in."""
    stored = await store_mutes(db, 5)

    assert await found_in_order(db, list(reversed(stored)), share_lock=True) == sorted(stored)


async def test_postgres_generic_plan_searches_the_index_for_many_pairs(db: Database) -> None:
    """On PostgreSQL the statement prepared once, planned without its values, probes the
    index once per pair: no plan scans the table, whatever the number of pairs."""
    if db.is_sqlite:
        pytest.skip("PostgreSQL's plan; SQLite's is checked in test_sqlite_driver")
    stored = await store_mutes(db, 3)
    query = select_by_pairs(
        "postgresql", (mutes.c.user_id,), mutes.c.user_id, mutes.c.peer_id, "pairs"
    )
    async with db.write() as conn:
        sql = str(query.compile(conn.sync_connection))
        await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.exec_driver_sql(f"PREPARE by_pairs(text) AS {sql}")
        pairs = json.dumps(stored * 200).replace("'", "''")
        plan = await conn.exec_driver_sql(f"EXPLAIN EXECUTE by_pairs('{pairs}')")
        lines = [row[0] for row in plan]
        await conn.exec_driver_sql("DEALLOCATE by_pairs")

    assert not any("Seq Scan on mutes" in line for line in lines), lines
    assert any("Index" in line and "mutes" in line for line in lines), lines
