"""``pairs_in``: a (first, second) IN pairs condition that each database answers exactly."""

from datetime import UTC, datetime

from sqlalchemy import select

from gkchat.db.engine import Database, pairs_in, pairs_value
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


async def found(db: Database, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    async with db.read() as conn:
        dialect = conn.dialect.name
        query = select(mutes.c.user_id, mutes.c.peer_id).where(
            pairs_in(dialect, mutes.c.user_id, mutes.c.peer_id, "pairs")
        )
        rows = await conn.execute(query, {"pairs": pairs_value(dialect, pairs)})
        return {(row.user_id, row.peer_id) for row in rows}


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
