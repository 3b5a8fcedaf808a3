"""Which database failures mean "try again shortly" (503 with Retry-After) rather than a bug."""

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gkchat.db.engine import is_transient


class PostgresError(Exception):
    """The shape of SQLAlchemy's asyncpg error: a message and its SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def wrapped(orig: BaseException, *, invalidated: bool = False) -> DBAPIError:
    return OperationalError("SELECT 1", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    "message", ["database is locked", "database table is locked", "database is busy"]
)
def test_sqlite_busy_and_locked_are_transient(message: str) -> None:
    """SQLite's "database is locked" (SQLITE_BUSY) after the busy timeout is transient."""
    error = sqlite3.OperationalError(message)
    error.sqlite_errorname = "SQLITE_BUSY"
    assert is_transient(wrapped(error))


def test_other_sqlite_errors_are_not_transient() -> None:
    """A constraint or syntax failure on SQLite is a bug, not a reason to retry."""
    assert not is_transient(wrapped(sqlite3.OperationalError("no such table: nothing")))
    assert not is_transient(IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE")))


@pytest.mark.parametrize("sqlstate", ["57P01", "57P02", "57P03", "08006", "08001", "53300"])
def test_postgres_shutdown_connection_and_resource_states_are_transient(sqlstate: str) -> None:
    """Terminated backends, lost connections, a starting server, too many connections."""
    assert is_transient(wrapped(PostgresError(sqlstate)))


@pytest.mark.parametrize("sqlstate", ["23505", "22P02", "42P01", "40P01"])
def test_other_postgres_states_are_not_transient(sqlstate: str) -> None:
    """Unique violations, bad input, missing tables and deadlocks are bugs to see, not 503s."""
    assert not is_transient(wrapped(PostgresError(sqlstate)))


def test_invalidated_connections_network_errors_and_pool_timeouts_are_transient() -> None:
    """A connection SQLAlchemy invalidated, an OSError, or no pooled connection in time."""
    assert is_transient(wrapped(Exception("gone"), invalidated=True))
    assert is_transient(wrapped(ConnectionResetError()))
    assert is_transient(ConnectionRefusedError())
    assert is_transient(PoolTimeout("QueuePool limit reached"))


def test_errors_that_are_not_database_errors_are_not_transient() -> None:
    """Anything else that reaches the last-resort handler stays a 500."""
    assert not is_transient(ValueError("bug"))
    assert not is_transient(KeyError("bug"))
