"""Schema migrations (Alembic), run in-process by ``gkchat serve`` and ``gkchat migrate``."""

import asyncio
import fcntl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gkchat.db.engine import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed number: the PostgreSQL advisory lock that lets one node migrate at a time.
_MIGRATION_LOCK_ID = 0x6B63_6861


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(database: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision``; safe when several nodes start at once."""
    if database.is_sqlite:
        assert database.url.database is not None
        async with _file_lock(Path(database.url.database + "-migrate.lock")):
            await _upgrade(database, revision)
    else:
        await _upgrade(database, revision)


@asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    """An exclusive lock on ``path`` between processes of this host, waited for off the loop.

    Processes that open a new SQLite file at the same moment could both run the migrations
    (measured: about one pair in ten started together), whatever the transaction's lock
    said; SQLite serves one host, so a lock file beside the database orders them.
    """
    with path.open("a") as handle:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


async def _upgrade(database: Database, revision: str) -> None:
    async with database.engine.connect() as conn:
        if database.is_sqlite:
            # Take the write lock before reading the schema version (waiting for another
            # process that migrates), so two deferred transactions never deadlock upgrading.
            await conn.execution_options(sqlite_begin="IMMEDIATE")
        else:
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            await conn.commit()
        try:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))
            await conn.commit()
        finally:
            if not database.is_sqlite:
                await conn.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
                await conn.commit()


async def downgrade(database: Database, revision: str) -> None:
    async with database.engine.connect() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))
        await conn.commit()


async def current_revision(database: Database) -> str | None:
    async with database.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head
