"""Each user's event stream: recording events in the transaction that caused them, and reading
them back for ``/sync`` and for connections that missed a live hint.

A cursor is the position of the last event a client has seen. Positions are allocated per user
under a row lock (see ``repos.stream.allocate``), so they commit in order and without gaps: a
reader that has seen position P has seen everything up to P.
"""

import re
from collections import Counter
from dataclasses import dataclass

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.clock import Clock
from gkchat.db.engine import Database
from gkchat.db.repos import stream as repo
from gkchat.domain.errors import InvalidInput
from gkchat.domain.events import DomainEvent
from gkchat.domain.models import StreamEvent
from gkchat.services.views import stream_entries

SYNC_LIMIT_DEFAULT = 500
SYNC_LIMIT_MAX = 1000
_CURSOR_RE = re.compile(r"^[0-9]{1,18}$")


def encode_cursor(seq: int) -> str:
    return str(seq)


def decode_cursor(cursor: str) -> int:
    if not _CURSOR_RE.fullmatch(cursor):
        raise InvalidInput("The sync cursor is not valid.", code="invalid_cursor")
    return int(cursor)


@dataclass(frozen=True, slots=True)
class SyncPage:
    events: list[StreamEvent]
    cursor: str
    has_more: bool


class StreamService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def record(self, conn: AsyncConnection, events: list[DomainEvent]) -> list[StreamEvent]:
        """Store the stream entries of ``events`` in the caller's transaction, in order."""
        entries = [entry for event in events for entry in stream_entries(event)]
        if not entries:
            return []
        first = await repo.allocate(conn, Counter(user_id for user_id, _, _ in entries))
        recorded = []
        encoded: dict[int, str] = {}  # by id(data): an event's audience shares one dict
        for user_id, event_type, data in entries:
            text = encoded.get(id(data))
            if text is None:
                text = encoded[id(data)] = orjson.dumps(data).decode()
            recorded.append(StreamEvent(user_id, first[user_id], event_type, data, text))
            first[user_id] += 1
        await repo.insert_events(conn, recorded, self._clock.now())
        return recorded

    async def sync(self, user_id: str, *, since: str | None, limit: int | None) -> SyncPage:
        """Events after ``since``; without it, the current position and no events."""
        size = SYNC_LIMIT_DEFAULT if limit is None else min(max(limit, 1), SYNC_LIMIT_MAX)
        async with self._db.read() as conn:
            if since is None:
                return SyncPage([], encode_cursor(await repo.head(conn, user_id)), False)
            after = decode_cursor(since)
            rows = await repo.read_after(conn, user_id, after=after, limit=size + 1)
        has_more = len(rows) > size
        rows = rows[:size]
        cursor = encode_cursor(rows[-1].seq if rows else after)
        return SyncPage(rows, cursor, has_more)

    async def head(self, user_id: str) -> int:
        async with self._db.read() as conn:
            return await repo.head(conn, user_id)

    async def between(self, user_id: str, *, after: int, upto: int) -> list[StreamEvent]:
        """The events a live connection missed: positions ``after + 1`` to ``upto``."""
        async with self._db.read() as conn:
            return await repo.read_after(
                conn, user_id, after=after, upto=upto, limit=max(upto - after, 0)
            )
