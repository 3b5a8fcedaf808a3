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
(``BEGIN IMMEDIATE``, ``COMMIT``, rollback) stays SQLAlchemy's. On PostgreSQL an INSERT's
rows go as one array per column (``INSERT ... SELECT unnest(...)``) to ``exec_driver_sql``,
and statements of a fixed text too; queries run through ``AsyncConnection.execute``, which
keeps one prepared statement per text on each connection.

Rows come back as plain tuples in the statement's column order, with the same values
SQLAlchemy would give; failures are raised as SQLAlchemy's ``DBAPIError`` subclasses
(``IntegrityError``, ``OperationalError``), as they would be through SQLAlchemy.
"""

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import Any, TypeVar, cast

import orjson
from sqlalchemy import Insert, String, Table, bindparam, func, select, true
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import Compiled

from gkchat.db.sqlite_driver import raw_connection

# From this many rows on, a SQLite INSERT of rows_each takes them as one JSON array: 128
# stream position upserts took 0.28 ms that way against 0.67 ms executed one by one, but a
# single one took 24 us against 20, and a conversation's upsert 47 against 27.
_JSON_FROM_ROWS = 4

Processor = Callable[[Any], Any]
Row = tuple[Any, ...]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Form:
    """A statement compiled for one dialect: its SQL and how values go in and come out."""

    sql: str
    pick: Callable[[Row], Row] | None  # declared order + fixed values -> the SQL's order
    fixed: Row  # values the statement binds itself (its literals), after the declared ones
    binds: tuple[tuple[int, Processor], ...]  # (position in the SQL, processor)
    results: tuple[tuple[int, Processor], ...]  # (column index, processor)
    expanding: bool  # the SQL text is completed per execution (PostgreSQL's IN lists)
    # SQLite: the INSERT taking all its rows, bound as here, as one JSON array parameter.
    from_json: "_Form | None" = None
    # PostgreSQL: the INSERT taking all its rows as one array per column (unnest).
    from_arrays: "_Form | None" = None

    def as_arrays(self, rows: Sequence[Row]) -> Row:
        """``from_arrays``' values for ``rows``: one list per column, processed by it."""
        assert self.from_arrays is not None
        columns: list[Any] = [list(column) for column in zip(*self.order(rows), strict=True)]
        for index, process in self.from_arrays.binds:  # lists: no memo (unhashable)
            columns[index] = process(columns[index])
        return tuple(columns)

    def order(self, rows: Sequence[Row]) -> Sequence[Row]:
        """Each row's values in the SQL's order, the statement's own values included."""
        if self.pick is None:
            return rows
        pick, fixed = self.pick, self.fixed
        return [pick(row + fixed) for row in rows]

    def bind(self, rows: Sequence[Row]) -> list[Row]:
        """Each row's values in the SQL's order, processed as the dialect binds them; a
        processed value is computed once per distinct value in the rows (rows written
        together share their time), so values must be hashable."""
        rows = self.order(rows)
        if not self.binds:
            return list(rows)
        converted: list[Row] = []
        memo: dict[tuple[int, Any], Any] = {}
        for row in rows:
            values = list(row)
            for index, process in self.binds:
                value = values[index]
                if value is None:
                    continue
                key = (index, value)
                if key not in memo:
                    memo[key] = process(value)
                values[index] = memo[key]
            converted.append(tuple(values))
        return converted

    def read(self, rows: list[Row]) -> list[Row]:
        if not self.results or not rows:
            return rows
        processed = []
        for row in rows:
            values = list(row)
            for index, process in self.results:
                values[index] = process(values[index])
            processed.append(tuple(values))
        return processed


class Statement:
    """A Core statement for the send path, built by ``build(dialect_name)``; it takes its
    values as tuples in the order of ``params``, and gives rows as tuples in its columns'
    order.

    Use it inside ``Database.write`` (elsewhere it raises ``RuntimeError``): on SQLite it runs
    on the connection's handle, in the transaction SQLAlchemy began.
    """

    def __init__(self, build: Callable[[str], Executable], params: Sequence[str]) -> None:
        self._build = build
        self.params = tuple(params)
        self._statements: dict[str, Executable] = {}
        self._forms: dict[str, _Form] = {}

    async def rows(self, conn: AsyncConnection, values: Row) -> list[Row]:
        """The rows of one execution."""
        _check_transaction(conn)
        if conn.dialect.name != "sqlite":
            return await self._through_sqlalchemy(conn, [values])
        form = self.form(conn.dialect)
        (bound,) = form.bind([values])
        return form.read(_run(conn, form.sql, lambda raw: raw.execute(form.sql, bound).fetchall()))

    async def rows_each(self, conn: AsyncConnection, rows: Sequence[Row]) -> list[Row]:
        """The rows of one execution per row of values, in no particular order (a multi-row
        upsert's RETURNING).

        An INSERT is one statement for all the rows: on PostgreSQL an ``INSERT ... SELECT``
        from one array per column (``unnest``); on SQLite, from a few rows on, one from the
        rows as one JSON array (``json_each``).
        """
        _check_transaction(conn)
        if not rows:
            return []
        form = self.form(conn.dialect)
        if conn.dialect.name != "sqlite":
            if form.from_arrays is None:
                return await self._through_sqlalchemy(conn, rows)
            result = await conn.exec_driver_sql(form.from_arrays.sql, form.as_arrays(rows))
            return form.read([tuple(row) for row in result])
        bound = form.bind(rows)
        if form.from_json is not None and len(bound) >= _JSON_FROM_ROWS:
            many = form.from_json
            (values,) = many.bind([(orjson.dumps(bound).decode(),)])
            return form.read(
                _run(conn, many.sql, lambda raw: raw.execute(many.sql, values).fetchall())
            )

        def run(raw: sqlite3.Connection) -> list[Row]:
            cursor = raw.cursor()
            return [row for values in bound for row in cursor.execute(form.sql, values)]

        return form.read(_run(conn, form.sql, run))

    async def run_each(self, conn: AsyncConnection, rows: Sequence[Row]) -> None:
        """One execution per row of values, returning nothing: one executemany."""
        _check_transaction(conn)
        if not rows:
            return
        form = self.form(conn.dialect)
        if conn.dialect.name == "sqlite":
            bound = form.bind(rows)
            _run(conn, form.sql, lambda raw: raw.executemany(form.sql, bound))
        elif form.from_arrays is not None:
            await conn.exec_driver_sql(form.from_arrays.sql, form.as_arrays(rows))
        elif form.expanding:
            await self._through_sqlalchemy(conn, rows, returns_rows=False)
        else:
            await conn.exec_driver_sql(form.sql, form.bind(rows))

    def statement(self, dialect: str) -> Executable:
        found = self._statements.get(dialect)
        if found is None:
            found = self._statements[dialect] = self._build(dialect)
        return found

    def form(self, dialect: Dialect) -> _Form:
        """The statement compiled for ``dialect`` (once)."""
        found = self._forms.get(dialect.name)
        if found is None:
            statement = cast(ClauseElement, self.statement(dialect.name))
            compiled = statement.compile(dialect=dialect, column_keys=list(self.params))
            found = _compile(compiled, dialect, self.params)
            if dialect.name == "sqlite" and isinstance(statement, Insert):
                found = replace(found, from_json=_from_json(statement, compiled, dialect))
            elif dialect.name == "postgresql" and isinstance(statement, Insert):
                found = replace(found, from_arrays=_from_arrays(statement, compiled, dialect))
            self._forms[dialect.name] = found
        return found

    async def _through_sqlalchemy(
        self, conn: AsyncConnection, rows: Sequence[Row], *, returns_rows: bool = True
    ) -> list[Row]:
        names = self.params
        params = [dict(zip(names, row, strict=True)) for row in rows]
        statement = self.statement(conn.dialect.name)
        result = await conn.execute(statement, params[0] if len(params) == 1 else params)
        return [tuple(row) for row in result] if returns_rows else []


def bulk_insert(table: Table, columns: Sequence[str]) -> Statement:
    """``INSERT INTO table (columns) VALUES (...)``, for ``run_each`` with rows as tuples in
    that order.

    ``conn.execute(table.insert(), rows)`` built a dict and ran a bind processor per value,
    which for a batch of 64 messages (about 200 rows with their events and notifications)
    cost more than SQLite's own work; here the rows go to the driver as one executemany.
    """
    unknown = [name for name in columns if name not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
    return Statement(lambda _dialect: table.insert(), columns)


def _compile(compiled: Compiled, dialect: Dialect, params: tuple[str, ...]) -> _Form:
    order = tuple(getattr(compiled, "positiontup", None) or ())
    binds = getattr(compiled, "binds", {})
    if binds and not order:
        raise RuntimeError(f"{dialect.name}: positional parameters expected")
    fixed: dict[str, Any] = {}
    processors = []
    for position, name in enumerate(order):
        bind = binds[name]
        if name not in params:
            if bind.required or bind.callable is not None:
                raise ValueError(f"the statement takes a parameter {name!r} not declared")
            fixed[name] = bind.value
        # dialect_impl: the type as this dialect binds it. The generic type's own processor
        # skips the dialect's formatting (SQLite's time text, with ".000000" on a whole second).
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((position, process))
    unused = set(params) - set(order)
    if unused:
        raise ValueError(f"the statement takes no parameter(s) {', '.join(sorted(unused))}")
    names = params + tuple(fixed)
    picks = tuple(names.index(name) for name in order)
    pick = None if picks == tuple(range(len(params))) else _picker(picks)
    sql = str(compiled)
    return _Form(
        sql=sql,
        pick=pick,
        fixed=tuple(fixed.values()),
        binds=tuple(processors),
        results=_results(compiled, dialect),
        expanding="POSTCOMPILE" in sql,
    )


def _inserted_columns(statement: Insert, compiled: Compiled) -> tuple[str, ...] | None:
    """The columns an INSERT binds, in its VALUES' order; None if it binds anything else
    (then it cannot take its rows as one parameter)."""
    columns = tuple(getattr(compiled, "positiontup", None) or ())
    if statement.select is not None or not columns or set(columns) - set(statement.table.c.keys()):
        return None
    return columns


def _from_json(statement: Insert, compiled: Compiled, dialect: Dialect) -> _Form | None:
    """``statement`` as ``INSERT ... SELECT`` from a JSON array of rows, each row its values
    in the order the VALUES form takes them, bound."""
    columns = _inserted_columns(statement, compiled)
    if columns is None:
        return None
    each = func.json_each(bindparam("rows", type_=String())).table_valued("value")
    source = select(
        *(func.json_extract(each.c.value, f"$[{index}]") for index in range(len(columns)))
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT to parse INSERT ... SELECT
    many = statement.from_select(list(columns), source)
    return _compile(many.compile(dialect=dialect), dialect, ("rows",))


def _from_arrays(statement: Insert, compiled: Compiled, dialect: Dialect) -> _Form | None:
    """``statement`` as ``INSERT ... SELECT unnest(...), ...`` taking one array per column:
    one statement text whatever the number of rows, which PostgreSQL prepares once and runs
    once, where an executemany ran the INSERT once per row and a multi-row VALUES had a
    text for each number of rows."""
    columns = _inserted_columns(statement, compiled)
    if columns is None:
        return None
    table = statement.table
    names = tuple(f"column_{index}" for index in range(len(columns)))
    arrays = [
        func.unnest(bindparam(name, type_=postgresql.ARRAY(table.c[column].type)))
        for name, column in zip(names, columns, strict=True)
    ]
    many = statement.from_select(list(columns), select(*arrays))
    return _compile(many.compile(dialect=dialect), dialect, names)


def _picker(picks: tuple[int, ...]) -> Callable[[Row], Row]:
    if len(picks) == 1:
        (index,) = picks
        return lambda row: (row[index],)
    return cast(Callable[[Row], Row], itemgetter(*picks))


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
