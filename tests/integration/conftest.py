"""Fixtures for tests that use the storage layer directly, below the services."""

from collections.abc import AsyncIterator

import pytest

from gkchat.db.engine import Database


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A handle on a fresh, migrated database."""
    database = Database(database_url)
    yield database
    await database.dispose()
