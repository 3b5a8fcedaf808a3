"""Direct messages: send, history, conversations, read receipts, edit and delete."""

import asyncio
import re
from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.clock import Clock
from gkchat.db.engine import Database
from gkchat.db.repos import friends as friends_repo
from gkchat.db.repos import messages as repo
from gkchat.db.repos.friends import ordered
from gkchat.db.repos.users import get_user
from gkchat.domain.errors import Forbidden, InvalidInput, NotFound, TooLarge
from gkchat.domain.events import (
    ConversationDelivered,
    ConversationRead,
    MessageDeleted,
    MessageUpdated,
)
from gkchat.domain.ids import is_valid_id
from gkchat.domain.models import Conversation, Message, User
from gkchat.domain.pagination import Page, Position, clamp_limit, decode_cursor, encode_cursor
from gkchat.services.events import EventBus
from gkchat.services.message_writer import MessageWriter, SendCommand, Sent

CONTENT_MAX = 4000
CLIENT_ID_MAX = 128
_SEQ_CURSOR = re.compile(r"^[0-9]{1,18}$")


def check_content(content: str) -> str:
    """1 to 4,000 code points, not only whitespace; stored exactly as given."""
    if len(content) > CONTENT_MAX:
        raise TooLarge(
            f"Messages may have at most {CONTENT_MAX} characters.", code="message_too_long"
        )
    if not content.strip():
        raise InvalidInput("A message needs some text.", code="empty_message")
    _check_storable(content, "content")
    return content


def check_client_id(client_id: str | None) -> str | None:
    if client_id is None:
        return None
    if not 1 <= len(client_id) <= CLIENT_ID_MAX:
        raise InvalidInput(
            f"client_id must have 1 to {CLIENT_ID_MAX} characters.", code="invalid_client_id"
        )
    _check_storable(client_id, "client_id")
    return client_id


def _check_storable(value: str, name: str) -> None:
    if "\x00" in value:
        raise InvalidInput(f"{name} must not contain NUL characters.", code="invalid_text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{name} must be valid Unicode (no unpaired surrogates).", code="invalid_text"
        ) from None


def _seq_cursor(before: str | None) -> int | None:
    if before is None:
        return None
    if not _SEQ_CURSOR.fullmatch(before):
        raise InvalidInput("The 'before' cursor is not valid.", code="invalid_cursor")
    return int(before)


class MessageService:
    def __init__(self, db: Database, clock: Clock, bus: EventBus, writer: MessageWriter) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus
        self._writer = writer

    def submit(
        self, *, sender: User, recipient_id: str, content: str, client_id: str | None
    ) -> "asyncio.Future[Sent]":
        """Check a send and queue it; the future resolves once the message is committed.

        Queuing happens before this returns, so sends keep the order they were submitted in.
        """
        if not isinstance(recipient_id, str) or not is_valid_id(recipient_id):
            raise NotFound("No such user.", code="user_not_found")
        if recipient_id == sender.id:
            raise InvalidInput("You cannot message yourself.", code="cannot_message_self")
        command = SendCommand(
            sender_id=sender.id,
            recipient_id=recipient_id,
            content=check_content(content),
            client_id=check_client_id(client_id),
            sender_name=sender.username,
        )
        return self._writer.submit(command)

    async def send(
        self, *, sender: User, recipient_id: str, content: str, client_id: str | None
    ) -> Sent:
        return await self.submit(
            sender=sender, recipient_id=recipient_id, content=content, client_id=client_id
        )

    async def history(
        self, *, me: User, peer_id: str, before: str | None, limit: int | None
    ) -> Page[Message]:
        """Messages between ``me`` and ``peer_id``, newest first; any existing user is fine."""
        before_seq, size = _seq_cursor(before), clamp_limit(limit)
        async with self._db.read() as conn:
            await self._require_user(conn, peer_id)
            rows = await repo.history(conn, me.id, peer_id, before_seq=before_seq, limit=size + 1)
        if len(rows) <= size:
            return Page(rows, None)
        rows = rows[:size]
        return Page(rows, str(rows[-1].seq))

    async def conversations(
        self, *, me: User, before: str | None, limit: int | None
    ) -> Page[Conversation]:
        position, size = decode_cursor(before), clamp_limit(limit)
        key = (position.at, position.id) if position else None
        async with self._db.read() as conn:
            rows = await repo.list_conversations(conn, me.id, before=key, limit=size + 1)
        if len(rows) <= size:
            return Page(rows, None)
        rows = rows[:size]
        last = rows[-1]
        return Page(rows, encode_cursor(Position(last.last_activity_at, last.peer.id)))

    async def mark_read(self, *, me: User, peer_id: str, up_to: str) -> None:
        """Mark the peer's messages up to and including ``up_to`` read; tell the peer (unless
        either has blocked the other)."""
        async with self._bus.transaction() as tx:
            message = await _message_between(tx.conn, up_to, me.id, peer_id)
            if await repo.mark_read(tx.conn, reader_id=me.id, peer_id=peer_id, seq=message.seq):
                # After a block, neither side learns when the other reads.
                tell_peer = not await _blocked_either_way(tx.conn, me.id, peer_id)
                await tx.emit(
                    ConversationRead(
                        reader_id=me.id,
                        peer_id=peer_id,
                        up_to=message.id,
                        seq=message.seq,
                        tell_peer=tell_peer,
                    )
                )

    async def mark_delivered(self, *, me: User, peer_id: str, up_to: str) -> None:
        """Record that a device of ``me`` has received the conversation up to ``up_to``; the
        peer gets a delivery receipt (not across a block). Going backwards changes nothing."""
        async with self._bus.transaction() as tx:
            message = await _message_between(tx.conn, up_to, me.id, peer_id)
            moved = await repo.mark_delivered(
                tx.conn, recipient_id=me.id, peer_id=peer_id, seq=message.seq
            )
            if moved and not await _blocked_either_way(tx.conn, me.id, peer_id):
                await tx.emit(
                    ConversationDelivered(
                        recipient_id=me.id, peer_id=peer_id, up_to=message.id, seq=message.seq
                    )
                )

    async def edit(self, *, me: User, message_id: str, content: str) -> Message:
        content = check_content(content)
        async with self._bus.transaction() as tx:
            message = await self._own_message(tx.conn, me, message_id)
            if await _blocked_either_way(tx.conn, me.id, message.recipient_id):
                raise Forbidden("You cannot change messages in this conversation.", code="blocked")
            now = self._clock.now()
            if not await repo.set_content(tx.conn, message.id, content=content, edited_at=now):
                raise InvalidInput("A deleted message cannot be edited.", code="message_deleted")
            # Re-read: the row as it now stands (a concurrent change may have landed first).
            edited = await repo.get_message(tx.conn, message.id) or message
            await tx.emit(MessageUpdated(message=edited))
        return edited

    async def delete(self, *, me: User, message_id: str) -> None:
        """Delete for both sides, leaving a tombstone; deleting again changes nothing."""
        async with self._bus.transaction() as tx:
            message = await self._own_message(tx.conn, me, message_id)
            now = self._clock.now()
            if await repo.tombstone(tx.conn, message.id, deleted_at=now):
                tombstone = await repo.get_message(tx.conn, message.id) or replace(
                    message, content="", deleted_at=now
                )
                await tx.emit(MessageDeleted(message=tombstone))

    async def _own_message(self, conn: AsyncConnection, me: User, message_id: str) -> Message:
        """The message if ``me`` sent it; 403 for its recipient; 404 for anyone else."""
        message = await repo.get_message(conn, message_id) if is_valid_id(message_id) else None
        if message is None or me.id not in (message.sender_id, message.recipient_id):
            raise NotFound("No such message.", code="message_not_found")
        if message.sender_id != me.id:
            raise Forbidden("Only the sender may change a message.", code="not_sender")
        return message

    async def _require_user(self, conn: AsyncConnection, user_id: str) -> None:
        if not is_valid_id(user_id) or await get_user(conn, user_id) is None:
            raise NotFound("No such user.", code="user_not_found")


async def _message_between(conn: AsyncConnection, message_id: str, a: str, b: str) -> Message:
    """The message if it belongs to the conversation of ``a`` and ``b``; 404 otherwise."""
    message = await repo.get_message(conn, message_id) if is_valid_id(message_id) else None
    if message is None or ordered(message.sender_id, message.recipient_id) != ordered(a, b):
        raise NotFound("No such message in this conversation.", code="message_not_found")
    return message


async def _blocked_either_way(conn: AsyncConnection, a: str, b: str) -> bool:
    return await friends_repo.is_blocked(
        conn, blocker_id=a, blocked_id=b
    ) or await friends_repo.is_blocked(conn, blocker_id=b, blocked_id=a)
