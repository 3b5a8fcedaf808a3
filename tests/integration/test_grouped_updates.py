"""Grouped updates: concurrent callers share transactions, and each returns once committed."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db.engine import Database
from gkchat.db.repos import users as users_repo
from gkchat.db.tables import users
from gkchat.services import grouped_updates
from gkchat.services.grouped_updates import GroupedUpdates
from tests.integration.test_select_by_pairs import NOW, store_mutes


class CountingWrites:
    """The real last_seen write, counting the transactions and the keys in each."""

    def __init__(self, *, fail: bool = False) -> None:
        self.batches: list[int] = []
        self.fail = fail

    async def __call__(self, conn: AsyncConnection, seen: dict[str, datetime]) -> None:
        self.batches.append(len(seen))
        if self.fail:
            raise RuntimeError("the database said no")
        await users_repo.set_last_seen(conn, seen)


async def user_ids(db: Database, count: int) -> list[str]:
    return [user for pair in await store_mutes(db, (count + 1) // 2) for user in pair][:count]


async def last_seen(db: Database) -> dict[str, datetime | None]:
    async with db.read() as conn:
        rows = await conn.execute(select(users.c.id, users.c.last_seen_at))
        return {row.id: row.last_seen_at for row in rows}


async def test_concurrent_updates_share_one_transaction(db: Database) -> None:
    """Fifty callers at once: every value is stored, in far fewer transactions than callers."""
    ids = await user_ids(db, 50)
    writes = CountingWrites()
    updates = GroupedUpdates(db, writes)

    await asyncio.gather(*(updates.put(user, NOW) for user in ids))

    assert sum(writes.batches) == 50
    assert len(writes.batches) <= 2
    assert set((await last_seen(db)).values()) == {NOW}


async def test_a_later_value_for_a_queued_key_wins(db: Database) -> None:
    """Two values for one key while it waits: both callers return, the later value is stored."""
    [user] = await user_ids(db, 1)
    updates = GroupedUpdates(db, CountingWrites())
    later = NOW + timedelta(minutes=5)

    await asyncio.gather(updates.put(user, NOW), updates.put(user, later))

    stored = (await last_seen(db))[user]
    assert stored is not None
    assert stored.replace(tzinfo=UTC) == later


async def test_a_burst_is_split_into_bounded_transactions(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More keys than a transaction takes go in several, none over the bound."""
    monkeypatch.setattr(grouped_updates, "_MAX_BATCH", 8)
    ids = await user_ids(db, 30)
    writes = CountingWrites()
    updates = GroupedUpdates(db, writes)

    await asyncio.gather(*(updates.put(user, NOW) for user in ids))

    assert sum(writes.batches) == 30
    assert max(writes.batches) <= 8


async def test_a_failed_write_raises_in_its_callers_and_the_next_one_works(db: Database) -> None:
    """A batch that fails raises in each of its callers; later updates are written."""
    ids = await user_ids(db, 3)
    writes = CountingWrites(fail=True)
    updates = GroupedUpdates(db, writes)

    results = await asyncio.gather(
        *(updates.put(user, NOW) for user in ids[:2]), return_exceptions=True
    )
    writes.fail = False
    await updates.put(ids[2], NOW)

    assert all(isinstance(r, RuntimeError) for r in results)
    assert (await last_seen(db))[ids[2]] is not None
