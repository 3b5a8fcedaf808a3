"""The database handle. Every difference between SQLite and PostgreSQL lives in this module."""

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Select,
    String,
    Table,
    any_,
    bindparam,
    cast,
    event,
    func,
    literal_column,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util.concurrency import await_

from gkchat.db import sqlite_driver
from gkchat.domain.errors import Unavailable

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
DEFAULT_BUSY_TIMEOUT = 10.0  # seconds an SQLite writer waits for another process's lock
DEFAULT_POSTGRES_POOL_SIZE = 20  # connections each process keeps to PostgreSQL
# SQLite copies the write-ahead log back into the database (a checkpoint, on the committing
# connection's thread) once the log holds this many pages: 16 MiB of 4 KiB pages. A send
# batch dirties about seven pages per message, many of them the same pages batch after
# batch (each user's newest index leaves), and a checkpoint copies each page once however
# often it was written: against SQLite's default of 1,000, ws-messages at 5,000 msg/s had
# delivery p50 35 and 33 -> 30 and 27 ms and a closed loop of 11,240 and 11,279 -> 12,072
# and 11,913 msg/s (alternating runs). The price is in the tail at low rates, where the
# batch that runs a checkpoint waits for a bigger one: p99 at 500 msg/s 6 -> 7 to 9 ms.
# 10,000 pages measured no better than 4,000.
SQLITE_CHECKPOINT_PAGES = 4000
UNAVAILABLE_MESSAGE = "The database is unavailable; try again shortly."
# PostgreSQL SQLSTATEs that say "not now" rather than "never": connection exceptions (08),
# insufficient resources (53: too many connections, out of memory or disk) and the server
# shutting down, crashing or starting (57P01 to 57P03, which pg_terminate_backend sends).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53")
_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
_TRANSIENT_SQLITE_ERRORS = ("SQLITE_BUSY", "SQLITE_LOCKED")


class Database:
    """An async engine plus the two ways to use it: ``read()`` and ``write()``.

    On SQLite, writers are serialised inside the process by a lock and take the file's write
    lock up front (``BEGIN IMMEDIATE``), so concurrent writers wait instead of failing with
    "database is locked"; readers run concurrently thanks to WAL mode. A writer of another
    process that holds the lock longer than ``busy_timeout`` seconds makes this one give up.

    Failures that say "not now" rather than "never" (the database cannot be reached, a
    connection was cut, SQLite's lock stayed busy, the pool had no connection to spare) leave
    both context managers as :class:`Unavailable`, which the API answers with 503 and
    ``Retry-After``.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        pool_size: int = DEFAULT_POSTGRES_POOL_SIZE,
    ) -> None:
        self.url: URL = normalise_url(url)
        self.dialect = self.url.get_backend_name()
        self.engine: AsyncEngine = _create_engine(
            self.url, echo=echo, busy_timeout=busy_timeout, pool_size=pool_size
        )
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for queries; nothing it does is committed."""
        try:
            async with self.engine.connect() as conn:
                yield conn
        except (DBAPIError, PoolTimeout, OSError) as exc:
            if is_transient(exc):
                raise Unavailable(UNAVAILABLE_MESSAGE) from exc
            raise

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits when the block ends and rolls back if it raises."""
        try:
            if self._write_lock is None:
                async with self.engine.begin() as conn:
                    yield conn
            else:
                async with self._write_lock, self.engine.connect() as conn:
                    await conn.execution_options(sqlite_begin="IMMEDIATE")
                    await conn.begin()
                    yield conn
                    await conn.commit()
        except (DBAPIError, PoolTimeout, OSError) as exc:
            if is_transient(exc):
                raise Unavailable(UNAVAILABLE_MESSAGE) from exc
            raise

    def insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        """An INSERT that supports ``on_conflict_do_*`` on both dialects."""
        return upsertable_insert(self.dialect, table)

    async def dispose(self) -> None:
        await self.engine.dispose()


def upsertable_insert(dialect: str, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that supports ``on_conflict_do_*`` on ``dialect``."""
    if dialect == "sqlite":
        return sqlite.insert(table)
    return postgresql.insert(table)


def select_by_pairs(
    dialect: str,
    columns: Sequence[ColumnElement[Any]],
    first: ColumnElement[str],
    second: ColumnElement[str],
    name: str,
    *,
    where: Sequence[ColumnElement[bool]] = (),
    share_lock: bool = False,
) -> Select[Any]:
    """``columns`` of the rows whose ``(first, second)`` is one of the pairs bound to
    ``name`` (``pairs_value(pairs)``) and for which ``where`` holds. ``(first, second)`` must
    be unique among the rows ``where`` admits (a key or a unique index): PostgreSQL takes one
    row per pair. With ``share_lock``, the rows are share-locked (PostgreSQL) in the pairs'
    order, and come out in it.

    Each database searches its index on ``(first, second)`` once per pair, however large the
    table and however many pairs, and the statement's text does not depend on the pairs, so
    it is built once and its compiled form cached.

    SQLite: ``(first, second) IN (SELECT ... FROM json_each(:name))``. A row-value IN over a
    list of values is a scan of the whole table there (84 ms for 256 pairs in 200,000 rows,
    against 1.6 ms searched); over a subquery it is searched.

    PostgreSQL: one index probe per pair, in a ``LATERAL`` subquery with ``LIMIT 1`` that
    the planner cannot turn into a join, so no plan can scan the table. An IN list of pairs
    had a text that varied with their number, and a prepared statement for 512 pairs got a
    generic plan that scanned the messages table, testing 512 alternatives on every row:
    a send batch's lookup of client ids took 97 ms at 20,000 messages and 167 ms at
    30,000, growing with the table (``auto_explain``). A join over the pairs as one
    parameter (tried earlier) let the planner hash-join them with a scan of small tables
    that fill with dead row versions.
    """
    if dialect == "sqlite":
        listed = func.json_each(bindparam(name, type_=String())).table_valued("value")
        matches = tuple_(first, second).in_(
            select(
                func.json_extract(listed.c.value, "$[0]"),
                func.json_extract(listed.c.value, "$[1]"),
            )
        )
        query = select(*columns).where(*where, matches)
        return query.order_by(first, second) if share_lock else query
    keys = (
        func.json_array_elements(cast(bindparam(name, type_=String()), JSON))
        .table_valued("value", with_ordinality="position")
        .render_derived(name="keys")
    )
    probe = (
        select(*columns)
        .where(
            *where,
            first == keys.c.value.op("->>")(literal_column("0")),
            second == keys.c.value.op("->>")(literal_column("1")),
        )
        .limit(literal_column("1"))
    )
    if share_lock:
        probe = probe.with_for_update(read=True)
    found = probe.lateral("found")
    query = select(*found.c).select_from(keys).join(found, true())
    return query.order_by(keys.c.position) if share_lock else query


def pairs_value(pairs: Iterable[tuple[str, str]]) -> str:
    """The parameter value for ``select_by_pairs``: the distinct pairs in order, as a JSON
    array."""
    return orjson.dumps(sorted(set(pairs))).decode()


def ids_in(dialect: str, column: ColumnElement[str], name: str) -> ColumnElement[bool]:
    """``column IN :name`` with the ids as one parameter (``ids_value``), not one each.

    A list of thousands of ids as single parameters costs compiling and binding each of them on
    every call; as one JSON text (SQLite's ``json_each``) or one array (PostgreSQL's ``ANY``)
    the statement stays the same, is built once and its compiled form is cached.
    """
    if dialect != "sqlite":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(String())))
    listed = func.json_each(bindparam(name, type_=String())).table_valued("value")
    return column.in_(select(listed.c.value))


def ids_value(dialect: str, ids: Iterable[str]) -> str | list[str]:
    """The parameter value for ``ids_in``."""
    return orjson.dumps(list(ids)).decode() if dialect == "sqlite" else list(ids)


def normalise_url(url: str) -> URL:
    """Accept the plain ``sqlite://`` and ``postgresql://`` forms and pick the async driver.

    Raises ValueError for anything GK-Chat cannot run on. Creates an SQLite file's folder.
    """
    parsed = parse_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        assert parsed.database is not None
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return parsed


def parse_url(url: str) -> URL:
    """Check a database URL without touching anything (see ``normalise_url``)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise ValueError(
            f"unsupported database URL {parsed.drivername!r}: use sqlite+aiosqlite:///path "
            "or postgresql+asyncpg://user@host/db"
        )
    if parsed.drivername == "sqlite+aiosqlite" and (
        not parsed.database or parsed.database == ":memory:"
    ):
        raise ValueError("GK-Chat needs an SQLite file, not an in-memory database")
    return parsed


def _create_engine(url: URL, *, echo: bool, busy_timeout: float, pool_size: int) -> AsyncEngine:
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=8,
            max_overflow=0,
            async_creator=sqlite_driver.connector(url.database),
            module=sqlite_driver.dbapi(),
        )
        _configure_sqlite(engine, busy_timeout_ms=max(1, round(busy_timeout * 1000)))
        return engine
    # A fixed pool, no overflow: connections opened for a burst and closed after it cost a
    # new PostgreSQL backend each time. With 10 + 10 overflow, `bench rest-messages` on
    # PostgreSQL managed 812 msg/s in its closed loop; with 20 and none, 1,244 (medians of
    # three alternating runs).
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=0, pool_pre_ping=True, pool_recycle=1800
    )


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the sqlite3 module (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
        # WAL lets readers run beside the writer; synchronous=FULL fsyncs the WAL on every
        # commit so that a committed write survives a crash or power loss.
        _switch_to_wal(cursor, busy_timeout_ms / 1000)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES:d}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _switch_to_wal(cursor: Any, timeout_s: float) -> None:
    """Put the database in WAL mode, waiting while another process holds the lock it needs.

    Only a new file needs the switch (the mode is stored in it), and then two processes
    opening it at once contend for it: SQLite may refuse one of them at once, without its busy
    timeout, or answer with the mode it could not leave. So the switch is retried until it
    reports WAL; a connection never goes on in rollback-journal mode. (Processes that migrate
    a new file are also ordered by a lock file: ``migrate.upgrade``.)
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            row = cursor.fetchone()
            if row is not None and str(row[0]).lower() == "wal":
                return
            problem = f"the journal mode stayed {row[0] if row else None!r}"
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            problem = str(exc)
        if time.monotonic() >= deadline:
            raise sqlite3.OperationalError(f"database is locked: cannot switch to WAL ({problem})")
        await_(asyncio.sleep(0.02))  # inside the connect event's greenlet: the loop runs on


def is_transient(exc: BaseException) -> bool:
    """Whether a database failure means "try again shortly" rather than a bug or bad data."""
    if isinstance(exc, OSError | PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if isinstance(orig, OSError):
        return True
    if isinstance(orig, sqlite3.Error):
        name = getattr(orig, "sqlite_errorname", "")
        text = str(orig).lower()
        return name.startswith(_TRANSIENT_SQLITE_ERRORS) or "database is locked" in text
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and (
        sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith(_TRANSIENT_SQLSTATE_CLASSES)
    ):
        return True
    # asyncpg: the connection closed in the middle of an operation (no SQLSTATE).
    cause = orig.__cause__ if orig is not None else None
    return type(cause).__name__ in ("ConnectionDoesNotExistError", "ConnectionResetError")
