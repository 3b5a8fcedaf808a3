"""Plain INSERTs of many rows, compiled once per dialect and handed to the driver as tuples.

``conn.execute(table.insert(), rows)`` builds each row's parameters in Python on every call:
a dict per row, then a bind processor per value (an aware datetime goes through
``UTCDateTime`` and, on SQLite, a string formatter). A batch of 64 messages writes about 200
such rows (the messages, two stream events each, notifications), and that bookkeeping cost
more than SQLite's own work. A ``BulkInsert`` compiles its statement once per dialect, runs
each column's bind processor once per distinct value in the batch (rows written together
share their timestamp), and sends the rows with ``exec_driver_sql`` as one executemany.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column index, processor)

    def bind(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if not self.processors:
            return list(rows)
        converted: list[tuple[Any, ...]] = []
        memo: dict[tuple[int, Any], Any] = {}
        for row in rows:
            values = list(row)
            for index, process in self.processors:
                value = values[index]
                if value is None:
                    continue
                key = (index, value)
                if key not in memo:
                    memo[key] = process(value)
                values[index] = memo[key]
            converted.append(tuple(values))
        return converted


class BulkInsert:
    """``INSERT INTO table (columns) VALUES (...)`` for rows given as tuples in that order.

    Values of columns with a bind processor (times, on either database) are memoised per
    batch, so they must be hashable; every column GK-Chat writes this way is.
    """

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        unknown = [name for name in columns if name not in table.c]
        if unknown:
            raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
        self.table = table
        self.columns = tuple(columns)
        self._compiled: dict[str, _Compiled] = {}

    async def execute(self, conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        compiled = self._compile(conn.dialect)
        await conn.exec_driver_sql(compiled.sql, compiled.bind(rows))

    def _compile(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            statement = self.table.insert().compile(dialect=dialect, column_keys=self.columns)
            order = list(statement.positiontup or ())
            if order != list(self.columns):  # a dialect with named parameters, or a surprise
                raise RuntimeError(f"{dialect.name}: positional parameters expected, got {order}")
            processors = []
            for index, name in enumerate(self.columns):
                # dialect_impl: the type as this dialect binds it. The generic type's own
                # processor skips the dialect's formatting (SQLite's time text), and the
                # driver's fallback wrote whole seconds without ".000000".
                process = self.table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    processors.append((index, process))
            found = self._compiled[dialect.name] = _Compiled(str(statement), tuple(processors))
        return found
