"""The SQLite driver: statements run on the event loop, lock waits and commits do not stall it."""

import asyncio
import sqlite3
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from gkchat.db.engine import Database, pairs_value, select_by_pairs
from gkchat.db.sqlite_driver import raw_connection
from gkchat.db.tables import mutes

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def other_process(db: Database) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection to the same file, standing in for another process."""
    assert db.url.database is not None
    conn = sqlite3.connect(db.url.database, isolation_level=None, check_same_thread=False)
    yield conn
    conn.close()


async def thread_of_statements(db: Database, *, write: bool) -> int:
    """The id of the thread that SQLite runs a statement on."""
    context = db.write() if write else db.read()
    async with context as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.create_function("thread_id", 0, threading.get_ident)
        return int((await conn.execute(text("SELECT thread_id()"))).scalar_one())


async def test_reads_run_on_the_event_loop_thread(db: Database) -> None:
    """A query costs no round trip to another thread."""
    assert await thread_of_statements(db, write=False) == threading.get_ident()


async def test_statements_in_a_write_transaction_run_on_the_event_loop_thread(
    db: Database,
) -> None:
    """Inside BEGIN IMMEDIATE the write lock is held, so statements cannot wait: inline."""
    assert await thread_of_statements(db, write=True) == threading.get_ident()


async def test_waiting_for_another_process_write_lock_leaves_the_loop_running(
    db: Database, other_process: sqlite3.Connection
) -> None:
    """While another process holds the write lock, our writer waits off the loop, which keeps
    serving; the write goes through once the lock is released."""
    async with db.write() as conn:  # create the file's schema before locking it
        await conn.execute(text("CREATE TABLE notes (body TEXT)"))
    other_process.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO notes VALUES ('after the lock')"))

    writer = asyncio.create_task(write())
    ticks = 0
    for _ in range(20):
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 20
    assert not writer.done()

    other_process.execute("COMMIT")
    await asyncio.wait_for(writer, timeout=5)
    assert other_process.execute("SELECT body FROM notes").fetchall() == [("after the lock",)]


async def test_the_busy_timeout_survives_a_write(db: Database) -> None:
    """Beginning a write without waiting leaves the connection's busy timeout as configured."""
    async with db.write() as conn:
        await conn.execute(text("SELECT 1"))
    async with db.read() as conn:
        timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
    assert timeout == 10000


async def test_a_committed_write_is_visible_to_another_process(
    db: Database, other_process: sqlite3.Connection
) -> None:
    """The commit really happened (on the connection's thread) before write() returned."""
    async with db.write() as conn:
        await conn.execute(text("CREATE TABLE notes (body TEXT)"))
        await conn.execute(text("INSERT INTO notes VALUES ('stored')"))
    assert other_process.execute("SELECT body FROM notes").fetchall() == [("stored",)]


async def test_select_by_pairs_searches_the_index(db: Database) -> None:
    """SQLite's plan for the pairs is an index search, not a scan of the table."""
    async with db.read() as conn:
        query = select_by_pairs(
            "sqlite", (mutes.c.user_id,), mutes.c.user_id, mutes.c.peer_id, "pairs"
        )
        compiled = query.compile(conn.sync_connection)
        params = compiled.construct_params({"pairs": pairs_value([("a", "b")])})
        assert compiled.positiontup is not None
        positional = tuple(params[name] for name in compiled.positiontup)
        plan = await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled.string}", positional)
        details = [row[-1] for row in plan]
    assert any(d.startswith("SEARCH mutes USING") for d in details), details
    assert not any(d.startswith("SCAN mutes") for d in details), details


async def test_a_failing_statement_raises_the_database_error_and_rolls_back(db: Database) -> None:
    """An inline statement that breaks a constraint raises IntegrityError, the transaction
    rolls back, and the pooled connection serves the next write."""
    async with db.write() as conn:
        await conn.execute(text("CREATE TABLE notes (body TEXT UNIQUE)"))

    async def insert_twice() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO notes VALUES ('once')"))
            await conn.execute(text("INSERT INTO notes VALUES ('once')"))

    with pytest.raises(IntegrityError):
        await insert_twice()
    async with db.write() as conn:
        await conn.execute(text("INSERT INTO notes VALUES ('again')"))
    async with db.read() as conn:
        rows = (await conn.execute(text("SELECT body FROM notes"))).scalars().all()
    assert rows == ["again"]


async def test_the_raw_connection_of_another_driver_is_refused(db: Database) -> None:
    """``raw_connection`` hands out only the sqlite3 connection of GK-Chat's own driver; a
    connection made by SQLAlchemy's stock aiosqlite adapter is refused, not misread."""
    stock = create_async_engine(db.url)
    try:
        async with stock.connect() as conn:
            await conn.execute(text("SELECT 1"))
            with pytest.raises(TypeError, match="not a connection made by"):
                raw_connection(conn)
    finally:
        await stock.dispose()


async def test_the_raw_connection_is_the_transactions_own(db: Database) -> None:
    """Inside a write, the raw connection sees the transaction's uncommitted writes."""
    async with db.write() as conn:
        await conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
        await conn.execute(text("INSERT INTO scratch VALUES (7)"))
        assert raw_connection(conn).execute("SELECT x FROM scratch").fetchall() == [(7,)]
