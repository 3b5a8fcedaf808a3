"""The PostgreSQL pool: a fixed number of connections, and requests beyond it wait."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import text

from gkchat.db.engine import Database


@pytest.fixture
async def small_pool(postgres_url: str) -> AsyncIterator[Database]:
    database = Database(postgres_url, pool_size=2)
    yield database
    await database.dispose()


async def read_one(db: Database) -> int:
    async with db.read() as conn:
        return int((await conn.execute(text("SELECT 1"))).scalar_one())


async def test_a_read_beyond_the_pool_waits_for_a_free_connection(small_pool: Database) -> None:
    """With both connections held, a third read opens no extra connection: it waits, and
    runs as soon as one is given back."""
    async with AsyncExitStack() as held:
        first = await held.enter_async_context(small_pool.read())
        await held.enter_async_context(small_pool.read())
        third = asyncio.create_task(read_one(small_pool))
        done, _ = await asyncio.wait({third}, timeout=0.3)
        assert not done
        await first.close()  # gives its connection back to the pool

        assert await asyncio.wait_for(third, timeout=5) == 1
