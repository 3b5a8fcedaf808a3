"""Leases on both databases: one holder at a time, free again once expired."""

from datetime import UTC, datetime, timedelta

from gkchat.db.engine import Database
from gkchat.db.repos import leases

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


async def claim(db: Database, holder: str, now: datetime) -> bool:
    async with db.write() as conn:
        return await leases.claim(db, conn, "job", holder=holder, now=now, until=now + MINUTE)


async def test_a_free_lease_is_taken(db: Database) -> None:
    """Nobody holds a lease that was never claimed."""
    assert await claim(db, "node-a", NOW) is True


async def test_a_held_lease_is_refused_to_everyone_until_it_expires(db: Database) -> None:
    """While node A holds the lease, neither node B nor A itself takes it again."""
    await claim(db, "node-a", NOW)

    assert await claim(db, "node-b", NOW + MINUTE / 2) is False
    assert await claim(db, "node-a", NOW + MINUTE / 2) is False


async def test_an_expired_lease_is_taken_by_the_next_claimer(db: Database) -> None:
    """Once the lease has run out, the next node to ask gets it."""
    await claim(db, "node-a", NOW)

    assert await claim(db, "node-b", NOW + MINUTE) is True
    assert await claim(db, "node-a", NOW + MINUTE) is False
