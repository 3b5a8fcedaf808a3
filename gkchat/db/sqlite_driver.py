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

The sqlite3 connection is shared by two threads but never used by both at once: SQLAlchemy
awaits each call before making the next, and holds a lock per connection around execution.
"""

import functools
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

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
