"""The event bus and the transaction that services write through.

``async with bus.transaction() as tx`` opens a database write; ``tx.emit(event)`` runs the
in-transaction handlers at once (so what they store commits or rolls back with the change) and
keeps the event; once the transaction has committed, the after-commit handlers get every kept
event in order. Nothing is announced for a change that did not commit.
"""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db.engine import Database
from gkchat.domain.events import DomainEvent

log = logging.getLogger("gkchat.events")

InTransactionHandler = Callable[[AsyncConnection, DomainEvent], Awaitable[None]]
AfterCommitHandler = Callable[[DomainEvent], Awaitable[None]]


@dataclass
class Transaction:
    conn: AsyncConnection
    _bus: "EventBus"
    events: list[DomainEvent] = field(default_factory=list)

    async def emit(self, event: DomainEvent) -> None:
        for handler in self._bus.in_transaction:
            await handler(self.conn, event)
        self.events.append(event)


class EventBus:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.in_transaction: list[InTransactionHandler] = []
        self.after_commit: list[AfterCommitHandler] = []

    def on_transaction(self, handler: InTransactionHandler) -> None:
        self.in_transaction.append(handler)

    def on_commit(self, handler: AfterCommitHandler) -> None:
        self.after_commit.append(handler)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._db.write() as conn:
            tx = Transaction(conn, self)
            yield tx
        await self.announce(tx.events)

    async def announce(self, events: list[DomainEvent]) -> None:
        """Hand committed events to the after-commit handlers; one failing harms no other."""
        for event in events:
            for handler in self.after_commit:
                try:
                    await handler(event)
                except Exception:
                    log.exception("after-commit handler failed for %s", event.type)
