"""Group commit for sends: the messages of concurrent senders share one transaction.

``submit`` queues a send and returns a future at once, so callers (a REST request, a WebSocket
frame) keep their arrival order; one task takes everything queued, writes it in a single
transaction and resolves the futures only after the commit. Under load a batch holds many
messages per fsync; alone, a message waits for nothing but its own commit.
"""

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError

from gkchat.clock import Clock
from gkchat.db.engine import Database
from gkchat.db.repos import messages as repo
from gkchat.db.repos.friends import ordered
from gkchat.domain.errors import Conflict, DomainError, Forbidden, NotFound, Unavailable
from gkchat.domain.events import MessageCreated
from gkchat.domain.ids import new_id
from gkchat.domain.models import Message
from gkchat.services.events import EventBus

log = logging.getLogger("gkchat.messages")

MAX_BATCH = 512
# A unique-constraint race with another process (the same client_id sent to two nodes at
# once) aborts the batch; the retry then finds the committed copy.
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Sent:
    message: Message
    created: bool  # False when a retry returned the message stored before


@dataclass
class SendCommand:
    sender_id: str
    recipient_id: str
    content: str
    client_id: str | None
    sender_name: str  # for the recipient's notification text, which needs no lookup then
    future: "asyncio.Future[Sent]" = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class MessageWriter:
    def __init__(
        self, db: Database, clock: Clock, bus: EventBus, *, max_batch: int = MAX_BATCH
    ) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus
        self._max_batch = max_batch
        self._queue: asyncio.Queue[SendCommand] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gkchat-message-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def submit(self, command: SendCommand) -> "asyncio.Future[Sent]":
        if self._task is None or self._task.done():
            raise Unavailable("The server is shutting down; send again shortly.")
        self._queue.put_nowait(command)
        return command.future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception as exc:  # the futures carry the failure to each sender
                if isinstance(exc, Unavailable):  # the database: not now; senders retry
                    log.warning("a batch of %d messages was not stored: %s", len(batch), exc)
                else:
                    log.exception("writing a batch of %d messages failed", len(batch))
                failure: Exception = (
                    exc
                    if isinstance(exc, DomainError)
                    else Unavailable("The message could not be stored; send it again.")
                )
                for command in batch:
                    if not command.future.done():
                        command.future.set_exception(failure)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[SendCommand]) -> None:
        for attempt in range(_ATTEMPTS):
            try:
                await self._write_once(batch)
                return
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise

    async def _write_once(self, batch: list[SendCommand]) -> None:
        """Store the batch in one transaction; its senders are answered once it commits,
        before its events are published (``Transaction.committed``)."""
        now = self._clock.now()
        async with self._bus.transaction() as tx:
            conn = tx.conn
            keys = {(c.sender_id, c.client_id) for c in batch if c.client_id is not None}
            stored = await repo.find_by_client_ids(conn, keys)
            pairs = {ordered(c.sender_id, c.recipient_id) for c in batch}
            friends = await repo.friend_pairs(conn, pairs)
            strangers = {
                c.recipient_id for c in batch if ordered(c.sender_id, c.recipient_id) not in friends
            }
            existing = await repo.existing_user_ids(conn, strangers) if strangers else set()

            outcomes: list[Sent | DomainError] = []
            fresh: list[tuple[int, SendCommand, str]] = []  # (index, command, new id)
            seen: dict[tuple[str, str], int] = {}
            for index, command in enumerate(batch):
                key = (command.sender_id, command.client_id) if command.client_id else None
                if key is not None and key in stored:
                    outcomes.append(_replayed(stored[key], command))
                    continue
                if key is not None and key in seen:
                    outcomes.append(_DUPLICATE_IN_BATCH)  # resolved below from the first copy
                    continue
                pair = ordered(command.sender_id, command.recipient_id)
                if pair not in friends:
                    outcomes.append(_refusal(command, existing))
                    continue
                if key is not None:
                    seen[key] = index
                outcomes.append(_PENDING)
                fresh.append((index, command, new_id()))

            per_pair = Counter(ordered(c.sender_id, c.recipient_id) for _, c, _ in fresh)
            last_id = {ordered(c.sender_id, c.recipient_id): mid for _, c, mid in fresh}
            next_seq = await repo.advance_conversations(
                conn, dict(per_pair), last_message_ids=last_id, at=now
            )
            created: list[Message] = []
            for index, command, message_id in fresh:
                pair = ordered(command.sender_id, command.recipient_id)
                message = Message(
                    id=message_id,
                    sender_id=command.sender_id,
                    recipient_id=command.recipient_id,
                    content=command.content,
                    client_id=command.client_id,
                    created_at=now,
                    seq=next_seq[pair],
                )
                next_seq[pair] += 1
                created.append(message)
                outcomes[index] = Sent(message, created=True)
                await tx.emit(MessageCreated(message=message, sender_name=command.sender_name))
            await repo.insert_messages(conn, created)
            tx.committed.append(lambda: _settle(batch, outcomes, seen))


_PENDING = Unavailable("pending")
_DUPLICATE_IN_BATCH = Unavailable("duplicate")


def _settle(
    batch: list[SendCommand], outcomes: list[Sent | DomainError], seen: dict[tuple[str, str], int]
) -> None:
    """Resolve each sender's future; a repeat within the batch gets its first copy."""
    for index, command in enumerate(batch):
        outcome = outcomes[index]
        if outcome is _DUPLICATE_IN_BATCH:
            assert command.client_id is not None
            first = outcomes[seen[(command.sender_id, command.client_id)]]
            assert isinstance(first, Sent)
            outcome = _replayed(first.message, command)
        if command.future.done():
            continue
        if isinstance(outcome, Exception):
            command.future.set_exception(outcome)
        else:
            command.future.set_result(outcome)


def _replayed(message: Message, command: SendCommand) -> Sent | DomainError:
    """A retry of a stored send: the same message, unless the retry says something else."""
    unchanged = message.edited_at is None and message.deleted_at is None
    if message.recipient_id != command.recipient_id or (
        unchanged and message.content != command.content
    ):
        return Conflict(
            "This client_id was already used for a different message.", code="client_id_conflict"
        )
    return Sent(message, created=False)


def _refusal(command: SendCommand, existing: set[str]) -> DomainError:
    if command.recipient_id not in existing:
        return NotFound("No such user.", code="user_not_found")
    return Forbidden("You can only message your friends.", code="not_friends")
