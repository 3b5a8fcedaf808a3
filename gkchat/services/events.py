"""The event bus and the transaction that services write through.

``async with bus.transaction() as tx`` opens a database write; ``tx.emit(event)`` keeps the
event. Before the commit, derivers store what the events call for (notifications) and add
their own events, and every kept event is recorded in its audience's streams, in the same
transaction; after the commit, the recorded entries are published for live delivery and the
after-commit handlers see the domain events. Callbacks in ``tx.committed`` run between the
commit and the publishing: the message writer answers its senders there, so that a sender's
acknowledgement is queued on its socket before the live events and both go out in one write.
Nothing is announced for a change that did not commit, and nothing committed lacks its stream
entries.

SQLite statements run on the event loop (``db.sqlite_driver``), so a write of hundreds of
messages would hold the loop for tens of milliseconds. The transaction lets the loop serve
sockets between its steps (the caller's statements, each deriver, the stream entries), which
keeps every stall to one step's length.
"""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db.engine import Database
from gkchat.domain.events import DomainEvent
from gkchat.domain.models import StreamEvent
from gkchat.services.stream import StreamService

log = logging.getLogger("gkchat.events")

AfterCommitHandler = Callable[[DomainEvent], Awaitable[None]]
Deriver = Callable[[AsyncConnection, list[DomainEvent]], Awaitable[list[DomainEvent]]]
Publisher = Callable[[list[StreamEvent]], Awaitable[None]]


@dataclass
class Transaction:
    conn: AsyncConnection
    events: list[DomainEvent] = field(default_factory=list)
    committed: list[Callable[[], None]] = field(default_factory=list)

    async def emit(self, event: DomainEvent) -> None:
        self.events.append(event)


class EventBus:
    def __init__(self, db: Database, stream: StreamService) -> None:
        self._db = db
        self._stream = stream
        self._publishers: list[Publisher] = []
        self._derivers: list[Deriver] = []
        self.after_commit: list[AfterCommitHandler] = []

    def on_commit(self, handler: AfterCommitHandler) -> None:
        self.after_commit.append(handler)

    def derive_with(self, deriver: Deriver) -> None:
        """Register an in-transaction step that stores more (notifications) for what happened
        and returns the events of what it stored."""
        self._derivers.append(deriver)

    def on_publish(self, publisher: Publisher) -> None:
        """Register live delivery of recorded stream entries (the real-time hub)."""
        self._publishers.append(publisher)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._db.write() as conn:
            tx = Transaction(conn)
            yield tx
            for derive in self._derivers:
                await asyncio.sleep(0)
                tx.events += await derive(conn, list(tx.events))
            await asyncio.sleep(0)
            recorded = await self._stream.record(conn, tx.events)
        for callback in tx.committed:
            callback()
        await self.announce(tx.events, recorded)

    async def announce(self, events: list[DomainEvent], recorded: list[StreamEvent]) -> None:
        """Hand committed work to publishers and handlers; one failing harms no other."""
        if recorded:
            for publish in self._publishers:
                try:
                    await publish(recorded)
                except Exception:
                    log.exception("publishing %d stream events failed", len(recorded))
        for event in events:
            for handler in self.after_commit:
                try:
                    await handler(event)
                except Exception:
                    log.exception("after-commit handler failed for %s", event.type)
