"""The send path's statements, compiled once per dialect and run on the driver's own handle.

Even a cached statement cost about 200 us of Python through ``AsyncConnection.execute``
(building its parameters, an execution context, a greenlet switch, a result object), and
about 90 us through ``exec_driver_sql``, where SQLite's own work for an indexed lookup or a
row written into the page cache is 10 to 40 us. A send batch runs ten statements, so a
batch of one message cost more than twice what its storage did.

Here a Core statement is compiled once per dialect into its SQL text, the order of its
parameters and each column's bind and result processors (times as SQLite stores them, and
back). Inside a write transaction on SQLite the text goes straight to the ``sqlite3``
connection under SQLAlchemy's (``sqlite_driver.raw_connection``); the transaction itself
(``BEGIN IMMEDIATE``, ``COMMIT``, rollback) stays SQLAlchemy's. On PostgreSQL the same calls
run through SQLAlchemy as before: there a statement is a round trip to the server, and the
pair lists are expanding parameters whose text varies from call to call.

Rows come back as plain tuples in the statement's column order, with the same values
SQLAlchemy would give; failures are raised as SQLAlchemy's ``DBAPIError`` subclasses
(``IntegrityError``, ``OperationalError``), as they would be through SQLAlchemy.
"""

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import Compiled

from gkchat.db.sqlite_driver import raw_connection

Processor = Callable[[Any], Any]
Row = tuple[Any, ...]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Binds:
    """How a statement's parameters become the positional values its compiled SQL takes."""

    order: tuple[str, ...]  # parameter names, in the SQL's order
    fixed: Mapping[str, Any]  # values the statement carries itself (literals it binds)
    processors: Mapping[str, Processor]

    def values(self, params: Mapping[str, Any]) -> Row:
        values = []
        for name in self.order:
            value = params[name] if name in params else self.fixed[name]
            process = self.processors.get(name)
            values.append(value if value is None or process is None else process(value))
        return tuple(values)


@dataclass(frozen=True, slots=True)
class _SqliteForm:
    sql: str
    binds: _Binds
    results: tuple[tuple[int, Processor], ...]  # (column index, processor)

    def rows(self, raw: list[Row]) -> list[Row]:
        if not self.results or not raw:
            return raw
        processed = []
        for row in raw:
            values = list(row)
            for index, process in self.results:
                values[index] = process(values[index])
            processed.append(tuple(values))
        return processed


class Statement:
    """A Core statement for the send path, built by ``build(dialect_name)`` and taking the
    named ``params``.

    Use it inside ``Database.write`` (elsewhere it raises ``RuntimeError``): on SQLite it runs
    on the connection's handle, in the transaction SQLAlchemy began.
    """

    def __init__(self, build: Callable[[str], Executable], params: Sequence[str]) -> None:
        self._build = build
        self.params = tuple(params)
        self._statements: dict[str, Executable] = {}
        self._sqlite: _SqliteForm | None = None

    async def rows(self, conn: AsyncConnection, params: Mapping[str, Any]) -> list[Row]:
        """The rows of one execution."""
        _check_transaction(conn)
        if conn.dialect.name != "sqlite":
            result = await conn.execute(self.statement(conn.dialect.name), dict(params))
            return [tuple(row) for row in result]
        form = self._sqlite_form(conn.dialect)
        values = form.binds.values(params)
        return form.rows(_run(conn, form.sql, lambda raw: raw.execute(form.sql, values).fetchall()))

    async def rows_each(
        self, conn: AsyncConnection, params: Sequence[Mapping[str, Any]]
    ) -> list[Row]:
        """The rows of one execution per parameter set (a multi-row upsert's RETURNING)."""
        _check_transaction(conn)
        if not params:
            return []
        if conn.dialect.name != "sqlite":
            result = await conn.execute(self.statement(conn.dialect.name), list(params))
            return [tuple(row) for row in result]
        form = self._sqlite_form(conn.dialect)
        each = [form.binds.values(p) for p in params]

        def run(raw: sqlite3.Connection) -> list[Row]:
            cursor = raw.cursor()
            return [row for values in each for row in cursor.execute(form.sql, values)]

        return form.rows(_run(conn, form.sql, run))

    async def run_each(self, conn: AsyncConnection, params: Sequence[Mapping[str, Any]]) -> None:
        """One execution per parameter set, returning nothing (an executemany)."""
        _check_transaction(conn)
        if not params:
            return
        if conn.dialect.name != "sqlite":
            await conn.execute(self.statement(conn.dialect.name), list(params))
            return
        form = self._sqlite_form(conn.dialect)
        each = [form.binds.values(p) for p in params]
        _run(conn, form.sql, lambda raw: raw.executemany(form.sql, each))

    def statement(self, dialect: str) -> Executable:
        found = self._statements.get(dialect)
        if found is None:
            found = self._statements[dialect] = self._build(dialect)
        return found

    def _sqlite_form(self, dialect: Dialect) -> _SqliteForm:
        if self._sqlite is None:
            statement = cast(ClauseElement, self.statement(dialect.name))
            compiled = statement.compile(dialect=dialect, column_keys=list(self.params))
            self._sqlite = _SqliteForm(
                str(compiled), _binds(compiled, dialect, self.params), _results(compiled, dialect)
            )
        return self._sqlite


class BulkInsert:
    """``INSERT INTO table (columns) VALUES (...)`` for rows given as tuples in that order,
    sent as one executemany.

    ``conn.execute(table.insert(), rows)`` built a dict and ran a bind processor per value,
    which for a batch of 64 messages (about 200 rows with their events and notifications)
    cost more than SQLite's own work. Here values of columns with a bind processor (times)
    are processed once per distinct value in the batch (rows written together share their
    time), so they must be hashable; every column GK-Chat writes this way is.
    """

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        unknown = [name for name in columns if name not in table.c]
        if unknown:
            raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
        self.table = table
        self.columns = tuple(columns)
        self._compiled: dict[str, tuple[str, tuple[tuple[int, Processor], ...]]] = {}

    async def execute(self, conn: AsyncConnection, rows: Sequence[Row]) -> None:
        _check_transaction(conn)
        if not rows:
            return
        sql, processors = self._compile(conn.dialect)
        values = _bind_rows(rows, processors)
        if conn.dialect.name == "sqlite":
            _run(conn, sql, lambda raw: raw.executemany(sql, values))
        else:
            await conn.exec_driver_sql(sql, values)

    def _compile(self, dialect: Dialect) -> tuple[str, tuple[tuple[int, Processor], ...]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.table.insert().compile(dialect=dialect, column_keys=self.columns)
            binds = _binds(compiled, dialect, self.columns)
            if binds.order != self.columns:  # a dialect with named parameters, or a surprise
                raise RuntimeError(f"{dialect.name}: positional parameters expected")
            processors = tuple(
                (index, binds.processors[name])
                for index, name in enumerate(self.columns)
                if name in binds.processors
            )
            found = self._compiled[dialect.name] = (str(compiled), processors)
        return found


def _bind_rows(rows: Sequence[Row], processors: tuple[tuple[int, Processor], ...]) -> list[Row]:
    if not processors:
        return list(rows)
    converted: list[Row] = []
    memo: dict[tuple[int, Any], Any] = {}
    for row in rows:
        values = list(row)
        for index, process in processors:
            value = values[index]
            if value is None:
                continue
            key = (index, value)
            if key not in memo:
                memo[key] = process(value)
            values[index] = memo[key]
        converted.append(tuple(values))
    return converted


def _binds(compiled: Compiled, dialect: Dialect, params: Sequence[str]) -> _Binds:
    order = tuple(getattr(compiled, "positiontup", None) or ())
    binds = getattr(compiled, "binds", {})
    if binds and not order:
        raise RuntimeError(f"{dialect.name}: positional parameters expected")
    fixed: dict[str, Any] = {}
    processors: dict[str, Processor] = {}
    for name in order:
        bind = binds[name]
        if name not in params:
            if bind.required or bind.callable is not None:
                raise ValueError(f"the statement takes a parameter {name!r} not declared")
            fixed[name] = bind.value
        # dialect_impl: the type as this dialect binds it. The generic type's own processor
        # skips the dialect's formatting (SQLite's time text, with ".000000" on a whole second).
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    return _Binds(order, fixed, processors)


def _results(compiled: Compiled, dialect: Dialect) -> tuple[tuple[int, Processor], ...]:
    statement: Any = compiled.statement
    columns = list(getattr(statement, "exported_columns", ()))
    processors = []
    for index, column in enumerate(columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            processors.append((index, process))
    return tuple(processors)


def _run(conn: AsyncConnection, sql: str, call: Callable[[sqlite3.Connection], T]) -> T:
    """``call`` on the transaction's sqlite3 connection, its failures raised as SQLAlchemy's."""
    try:
        return call(raw_connection(conn))
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, None, exc, sqlite3.Error, dialect=conn.dialect) from exc


def _check_transaction(conn: AsyncConnection) -> None:
    # On SQLite, a statement outside the transaction SQLAlchemy began would run in
    # autocommit mode; the rule holds on both databases so that it is kept on both.
    if not conn.in_transaction():
        raise RuntimeError("direct statements run inside Database.write")
