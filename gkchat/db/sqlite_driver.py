"""The SQLite connection under SQLAlchemy's ``sqlite+aiosqlite`` dialect, without a thread hop
per call.

aiosqlite runs every call (make a cursor, execute, fetch, close the cursor) on the connection's
own thread and wakes the event loop for each result: four round trips between threads for one
statement, which cost far more CPU than SQLite's work itself (about 100 us against 10-30 us for
an indexed read or a row written into the page cache). Here most calls run inline on the event
loop instead; only the calls that can wait run on the connection's thread:

- ``BEGIN IMMEDIATE`` / ``BEGIN EXCLUSIVE``, which wait (up to ``busy_timeout``) for another
  process's write lock;
- ``COMMIT``, which fsyncs the write-ahead log and may checkpoint it;
- ``PRAGMA``, ``VACUUM``, ``ANALYZE`` and scripts, which may scan the whole file;
- opening and closing the connection.

Everything else is safe to run inline because it cannot wait on a lock. GK-Chat writes only
inside ``BEGIN IMMEDIATE`` transactions (``Database.write``), so a statement in one already
holds the write lock; and in WAL mode a reader never waits for a writer. A write transaction
therefore costs two round trips whatever it holds, and a read none.

Even an inline call cost about 90 us through SQLAlchemy's aiosqlite adapter: each statement
made an aiosqlite cursor and switched greenlets three times (to create the cursor, to execute
and fetch, to close it), each switch running a coroutine that never suspended. ``dbapi()``
gives the engine an adapter whose cursors are plain sqlite3 cursors: a statement that runs
inline is executed and fetched in one coroutine, one greenlet switch, and only the
statements above hop to the thread: a cached one-row query went from 100 to 73 us, nearly all
of it now SQLAlchemy's own execution path (``python -m bench.write_path`` shows the effect on
a send batch).

The sqlite3 connection is shared by two threads but never used by both at once: SQLAlchemy
awaits each call before making the next, and holds a lock per connection around the calls
that go to the thread.
"""

import collections
import functools
import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.util.concurrency import await_

# Statements that can wait for a lock, fsync, or scan the database: they go to the thread.
_THREAD_STATEMENTS = ("COMMIT", "END", "PRAGMA", "VACUUM", "ANALYZE", "REINDEX")
_WAITING_BEGINS = ("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")
# Calls that never wait: creating and closing cursors, fetching rows already computed.
_INLINE_CURSOR_CALLS = frozenset({"fetchone", "fetchmany", "fetchall", "close"})
_INLINE_CONNECTION_CALLS = frozenset({"cursor", "rollback"})
_INLINE, _BEGIN, _THREAD = "inline", "begin", "thread"


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose non-waiting calls run inline on the event loop."""

    _busy_timeout_ms: int | None = None

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        route = _route(fn, args)
        if route == _INLINE:
            if not self._running or not self._connection:
                raise ValueError("Connection closed")
            return fn(*args, **kwargs)
        if (
            route == _BEGIN
            and self._connection is not None
            and self._begin_without_waiting(fn, args)
        ):
            return getattr(fn, "__self__")  # noqa: B009 (what sqlite3's Cursor.execute returns)
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _begin_without_waiting(self, execute: Callable[..., Any], args: tuple[Any, ...]) -> bool:
        """Try ``BEGIN IMMEDIATE`` inline with no busy wait; False if another process holds
        the write lock (then the caller waits for it on the thread, with the busy timeout).

        Writers inside this process take turns before they begin (``Database.write``), so
        the lock is nearly always free and a write transaction costs one round trip, its
        commit.
        """
        conn = self._conn
        if self._busy_timeout_ms is None:
            self._busy_timeout_ms = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
        conn.execute("PRAGMA busy_timeout=0")
        try:
            execute(*args)
            return True
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")


def _route(fn: Callable[..., Any], args: tuple[Any, ...]) -> str:
    """Where a call runs: inline, as a waiting BEGIN (tried inline first), or on the thread."""
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", "")
    if isinstance(owner, sqlite3.Cursor):
        if name in _INLINE_CURSOR_CALLS:
            return _INLINE
        if name in ("execute", "executemany") and args and isinstance(args[0], str):
            route = _statement_route(args[0])
            return route if name == "execute" or route == _INLINE else _THREAD
        return _THREAD  # executescript, and anything unforeseen
    if isinstance(owner, sqlite3.Connection):
        return _INLINE if name in _INLINE_CONNECTION_CALLS else _THREAD
    return _THREAD


@functools.lru_cache(maxsize=1024)
def _statement_route(sql: str) -> str:
    """The route of a statement, from its first words (statements repeat: cached)."""
    head = " ".join(sql.lstrip()[:40].upper().split())
    if head.startswith(_WAITING_BEGINS):
        return _BEGIN
    if head.startswith(_THREAD_STATEMENTS):
        return _THREAD
    return _INLINE


def connector(path: str) -> Callable[[], InlineConnection]:
    """An ``async_creator`` for ``create_async_engine``: a new connection to ``path``.

    ``check_same_thread`` is off because calls come from two threads (never at once);
    ``isolation_level=None`` hands transaction control to SQLAlchemy's ``BEGIN`` (see
    ``engine._configure_sqlite``).
    """
    connect = partial(sqlite3.connect, path, check_same_thread=False, isolation_level=None)

    def create() -> InlineConnection:
        connection = InlineConnection(connect, iter_chunk_size=64)
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connect()
        return connection

    return create


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    """A DB-API cursor for SQLAlchemy over a plain sqlite3 cursor: statements that cannot wait
    run by a direct call; the others (see ``_route``) are awaited on the connection's thread.
    Result rows are fetched at once, as SQLAlchemy's own adapter does."""

    __slots__ = ()
    _awaitable_cursor_close = False  # closing a sqlite3 cursor never waits

    def _make_new_cursor(self, connection: Any) -> Any:
        return connection._conn.cursor()

    def _aenter_cursor(self, cursor: Any) -> Any:
        return cursor

    @property
    def _sqlite(self) -> sqlite3.Cursor:
        return cast(sqlite3.Cursor, self._cursor)

    def _fetch(self) -> None:
        if self._sqlite.description:
            self._rows = collections.deque(self._sqlite.fetchall())

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        if _statement_route(operation) != _INLINE:
            return super().execute(operation, parameters)
        try:
            return await_(self._inline(self._sqlite.execute, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        if _statement_route(operation) != _INLINE:
            return super().executemany(operation, seq_of_parameters)
        try:
            return await_(self._inline(self._sqlite.executemany, operation, seq_of_parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _inline(self, execute: Callable[..., Any], operation: Any, parameters: Any) -> Any:
        # A coroutine although it never suspends: AsyncConnection.execute insists that a
        # statement awaits something, and one greenlet switch is the cheapest way to.
        if parameters is None:
            execute(operation)
        else:
            execute(operation, parameters)
        self._fetch()
        return self

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            args = (operation,) if parameters is None else (operation, parameters)
            # InlineConnection._execute routes it: BEGIN tried inline first, the rest threaded.
            await self._connection._execute(self._sqlite.execute, *args)
            self._fetch()
            return self

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            await self._connection._execute(self._sqlite.executemany, operation, seq_of_parameters)
            return self


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _Cursor

    def rollback(self) -> None:
        connection = self._connection
        if connection._connection:  # a closed connection has nothing to roll back
            try:
                connection._conn.rollback()  # never waits: inline
            except Exception as error:
                self._handle_exception(error)


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *args: Any, **kwargs: Any) -> _Connection:
        create = kwargs.pop("async_creator_fn")
        return _Connection(self, await_(create(*args, **kwargs)))


def dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """The DB-API module for ``create_async_engine(module=...)``, with an ``async_creator``
    from ``connector``."""
    return _DBAPI(aiosqlite, sqlite3)


def raw_connection(conn: AsyncConnection) -> sqlite3.Connection:
    """The ``sqlite3`` connection under an SQLAlchemy connection made by ``dbapi()``.

    Calls on it run inline, on the event loop; ``db.direct`` uses it for statements that
    cannot wait (see the module's docstring), inside a transaction SQLAlchemy began.
    """
    adapted = conn.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
    if not isinstance(adapted, _Connection):
        raise TypeError("not a connection made by gkchat.db.sqlite_driver")
    return cast(sqlite3.Connection, adapted._connection._conn)
