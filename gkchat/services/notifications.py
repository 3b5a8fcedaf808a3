"""Notifications: derived from domain events in the transaction that made them, listed,
counted and marked read.

The collapse rule: while a ``message`` notification from a sender is unread, further messages
from that sender update it (count, text, reference to the newest message, time) instead of
adding rows, so 50 messages while you are away are one notification saying "alice sent you
50 messages". Reading it, reading the conversation, or marking all read ends the burst; the
next message starts a new notification. Muted conversations make no message notifications.
"""

from collections import defaultdict
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.clock import Clock
from gkchat.db.engine import Database
from gkchat.db.repos import notifications as repo
from gkchat.domain import events
from gkchat.domain.errors import InvalidInput, NotFound
from gkchat.domain.ids import is_valid_id, new_id
from gkchat.domain.models import Message, Notification, User
from gkchat.domain.pagination import Page, Position, clamp_limit, decode_cursor, page_of
from gkchat.services.events import EventBus


def _message_text(sender: str, count: int) -> str:
    if count == 1:
        return f"{sender} sent you a message"
    return f"{sender} sent you {count} messages"


class NotificationService:
    def __init__(self, db: Database, clock: Clock, bus: EventBus) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus

    async def derive(
        self, conn: AsyncConnection, happened: list[events.DomainEvent]
    ) -> list[events.DomainEvent]:
        """Store the notifications ``happened`` calls for; return their events."""
        derived: list[events.DomainEvent] = []
        sent = [e for e in happened if isinstance(e, events.MessageCreated)]
        if sent:
            derived += await self._for_messages(conn, sent)
        now = self._clock.now()
        for event in happened:
            match event:
                case events.FriendRequestCreated(request=request):
                    derived.append(
                        await self._create(
                            conn,
                            request.to_user.id,
                            "friend_request",
                            request.id,
                            f"{request.from_user.username} sent you a friend request",
                            actor_id=request.from_user.id,
                        )
                    )
                case events.FriendRequestAccepted(request=request):
                    derived += await self._read(conn, request.to_user.id, reference_id=request.id)
                    derived.append(
                        await self._create(
                            conn,
                            request.from_user.id,
                            "friend_accepted",
                            request.id,
                            f"{request.to_user.username} accepted your friend request",
                            actor_id=request.to_user.id,
                        )
                    )
                case (
                    events.FriendRequestDeclined(request=request)
                    | events.FriendRequestCancelled(request=request)
                ):
                    derived += await self._read(conn, request.to_user.id, reference_id=request.id)
                case events.ConversationRead(reader_id=reader, peer_id=peer):
                    changed = await repo.mark_read(conn, reader, at=now, message_actor=peer)
                    if changed:
                        derived.append(events.NotificationsRead(user_id=reader, ids=tuple(changed)))
        return derived

    async def _for_messages(
        self, conn: AsyncConnection, sent: list[events.MessageCreated]
    ) -> list[events.DomainEvent]:
        by_pair: dict[tuple[str, str], list[Message]] = defaultdict(list)
        names: dict[str, str] = {}
        for event in sent:
            message = event.message
            by_pair[(message.recipient_id, message.sender_id)].append(message)
            names[message.sender_id] = event.sender_name
        muted = await repo.muted_pairs(conn, set(by_pair))
        pairs = {pair for pair in by_pair if pair not in muted}
        if not pairs:
            return []
        open_ones = await repo.open_bursts(conn, pairs)
        now = self._clock.now()
        derived: list[events.DomainEvent] = []
        created: list[Notification] = []
        bumped: list[Notification] = []
        for pair in sorted(pairs):
            user_id, sender_id = pair
            burst = by_pair[pair]
            existing_id, earlier = open_ones.get(pair, (None, 0))
            count = earlier + len(burst)
            notification = Notification(
                id=existing_id or new_id(),
                user_id=user_id,
                type="message",
                reference_id=burst[-1].id,
                content=_message_text(names[sender_id], count),
                created_at=now,
                read_at=None,
                actor_id=sender_id,
                count=count,
            )
            if existing_id is None:
                created.append(notification)
                derived.append(events.NotificationCreated(notification=notification))
            else:
                bumped.append(notification)
                derived.append(events.NotificationUpdated(notification=notification))
        await repo.insert_all(conn, created)
        await repo.bump_all(conn, bumped)
        return derived

    async def _create(
        self,
        conn: AsyncConnection,
        user_id: str,
        kind: str,
        reference_id: str,
        text: str,
        *,
        actor_id: str,
    ) -> events.DomainEvent:
        notification = Notification(
            id=new_id(),
            user_id=user_id,
            type=kind,
            reference_id=reference_id,
            content=text,
            created_at=self._clock.now(),
            read_at=None,
            actor_id=actor_id,
        )
        await repo.insert(conn, notification)
        return events.NotificationCreated(notification=notification)

    async def _read(
        self, conn: AsyncConnection, user_id: str, *, reference_id: str
    ) -> list[events.DomainEvent]:
        changed = await repo.mark_read(
            conn, user_id, at=self._clock.now(), reference_id=reference_id
        )
        return [events.NotificationsRead(user_id=user_id, ids=tuple(changed))] if changed else []

    async def list_for(
        self, *, me: User, unread_only: bool, before: str | None, limit: int | None
    ) -> tuple[Page[Notification], int]:
        position, size = decode_cursor(before), clamp_limit(limit)
        async with self._db.read() as conn:
            rows = await repo.list_for(
                conn, me.id, unread_only=unread_only, before=position, limit=size + 1
            )
            unread = await repo.unread_count(conn, me.id)
        return page_of(rows, size, lambda x: Position(x.created_at, x.id)), unread

    async def mark_read(self, *, me: User, notification_id: str) -> None:
        """Mark one of your notifications read; anyone else's is NotFound."""
        async with self._bus.transaction() as tx:
            if not is_valid_id(notification_id) or not await repo.exists_for(
                tx.conn, me.id, notification_id
            ):
                raise NotFound("No such notification.", code="notification_not_found")
            changed = await repo.mark_read(
                tx.conn, me.id, at=self._clock.now(), ids=[notification_id]
            )
            if changed:
                await tx.emit(events.NotificationsRead(user_id=me.id, ids=tuple(changed)))

    async def mark_all_read(self, *, me: User) -> None:
        async with self._bus.transaction() as tx:
            changed = await repo.mark_read(tx.conn, me.id, at=self._clock.now())
            if changed:
                await tx.emit(
                    events.NotificationsRead(user_id=me.id, ids=tuple(changed), everything=True)
                )

    async def set_muted(self, *, me: User, peer_id: str, muted: bool) -> None:
        """Mute (or unmute) message notifications from ``peer_id``; messages still arrive."""
        if peer_id == me.id:
            raise InvalidInput("You cannot mute yourself.", code="cannot_mute_self")
        async with self._db.write() as conn:
            if not is_valid_id(peer_id) or not await repo.usernames(conn, {peer_id}):
                raise NotFound("No such user.", code="user_not_found")
            if muted:
                await repo.mute(self._db, conn, me.id, peer_id, self._clock.now())
            else:
                await repo.unmute(conn, me.id, peer_id)

    async def muted_peers(self, user_id: str, peers: list[str]) -> set[str]:
        async with self._db.read() as conn:
            return await repo.muted_peers(conn, user_id, peers)

    async def prune(self, *, retention: timedelta) -> int:
        """Delete notifications read longer ago than ``retention``."""
        async with self._db.write() as conn:
            return await repo.delete_read_before(conn, self._clock.now() - retention)
