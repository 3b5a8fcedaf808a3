"""The real-time side of the services: publishing committed events, presence and typing."""

import logging
import time
from collections import defaultdict
from datetime import datetime, timedelta

from gkchat.clock import Clock
from gkchat.db.engine import Database
from gkchat.db.repos import friends as friends_repo
from gkchat.db.repos import users as users_repo
from gkchat.domain.errors import Forbidden, NotFound
from gkchat.domain.events import (
    DomainEvent,
    FriendRequestAccepted,
    MessageCreated,
    SessionsEnded,
)
from gkchat.domain.ids import is_valid_id
from gkchat.domain.models import StreamEvent
from gkchat.realtime.connection import Connection
from gkchat.realtime.frames import event_frame, frame
from gkchat.realtime.hub import Hub, HubMessage, Kind
from gkchat.realtime.registry import ConnectionRegistry
from gkchat.services.grouped_updates import GroupedUpdates
from gkchat.services.views import timestamp

log = logging.getLogger("gkchat.realtime")
# Pairs whose last typing time is remembered before old ones are forgotten.
_TYPING_MEMORY = 10_000


class Gateway:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        hub: Hub,
        *,
        typing_interval: timedelta,
        presence_timeout: timedelta,
    ) -> None:
        self._db = db
        self._clock = clock
        self.hub = hub
        self.registry = ConnectionRegistry(hub)
        self.presence = hub.presence(self.registry, timeout=presence_timeout)
        self._typing_interval = typing_interval.total_seconds()
        self._last_typing: dict[tuple[str, str], float] = defaultdict(float)
        self._last_seen = GroupedUpdates(db, users_repo.set_last_seen)
        hub.on_resync(self.resync)
        self.presence.on_change(self._presence_changed)

    async def start(self) -> None:
        await self.hub.start()
        await self.presence.start()

    async def stop(self) -> None:
        await self.presence.stop()
        await self.hub.stop()

    async def publish_stream(self, recorded: list[StreamEvent]) -> None:
        """After commit: hand each user's new events, as frames, to the hub."""
        by_user: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for event in recorded:
            by_user[event.user_id].append((event.seq, event_frame(event)))
        await self.hub.publish(
            [HubMessage(user, Kind.EVENTS, tuple(frames)) for user, frames in by_user.items()]
        )

    async def on_domain_event(self, event: DomainEvent) -> None:
        if isinstance(event, SessionsEnded):
            await self.hub.publish(
                [HubMessage(event.user_id, Kind.CLOSE_SESSIONS, session_ids=event.session_ids)]
            )
        elif isinstance(event, FriendRequestAccepted):
            await self._introduce(event.request.from_user.id, event.request.to_user.id)
        elif isinstance(event, MessageCreated):
            # The recipient's client stops showing "typing" when the message lands, so the
            # sender's next keystroke must get through at once, not after the interval.
            self._last_typing.pop((event.message.sender_id, event.message.recipient_id), None)

    async def _introduce(self, a: str, b: str) -> None:
        """New friends learn each other's presence at once, not at the next change."""
        async with self._db.read() as conn:
            seen = await users_repo.last_seen(conn, [a, b])
        frames = await self._presence_frames([a, b], seen)
        await self.hub.publish(
            [
                HubMessage(user, Kind.EPHEMERAL, ((0, frames[friend]),))
                for user, friend in ((a, b), (b, a))
            ]
        )

    async def register(self, connection: Connection) -> bool:
        """Route the user's news to this socket; True when it is their first one here."""
        first = await self.registry.add(connection)
        if first:
            await self.presence.arrived(connection.user_id)
        return first

    async def announce(self, connection: Connection, *, first: bool) -> None:
        """Tell friends the user is online (first socket) and the socket its friends' presence."""
        friends, seen = await self._friends_and_last_seen(connection.user_id)
        if first:
            await self._announce(connection.user_id, online=True, friends=friends)
        await self._send_friends_presence(connection, friends, seen)

    async def disconnected(self, connection: Connection) -> None:
        if await self.registry.remove(connection) and await self.presence.left(connection.user_id):
            await self._went_offline(connection.user_id)

    async def resync(self) -> None:
        """After the hub lost messages: every socket reads the events it missed and gets its
        friends' presence again."""
        self.registry.resync()
        for connection in self.registry.all():
            if not connection.started:
                continue  # still setting up: it gets the snapshot after its ready frame
            try:
                friends, seen = await self._friends_and_last_seen(connection.user_id)
                await self._send_friends_presence(connection, friends, seen)
            except Exception:
                log.exception("refreshing presence for user %s failed", connection.user_id)

    async def _presence_changed(self, user_ids: list[str], online: bool) -> None:
        for user_id in user_ids:
            if online:
                await self._announce(user_id, online=True)
            else:
                await self._went_offline(user_id)

    async def _went_offline(self, user_id: str) -> None:
        await self._last_seen.put(user_id, self._clock.now())
        await self._announce(user_id, online=False)

    async def typing(self, *, sender_id: str, recipient_id: str) -> None:
        """Tell a friend that the sender is typing, at most once per interval."""
        if not isinstance(recipient_id, str) or not is_valid_id(recipient_id):
            raise NotFound("No such user.", code="user_not_found")
        async with self._db.read() as conn:
            friends = await friends_repo.are_friends(conn, sender_id, recipient_id)
        if not friends:
            raise Forbidden("You can only tell your friends you are typing.", code="not_friends")
        key = (sender_id, recipient_id)
        now = time.monotonic()
        if now - self._last_typing[key] < self._typing_interval:
            return
        if len(self._last_typing) >= _TYPING_MEMORY:
            self._forget_typing_before(now - self._typing_interval)
        self._last_typing[key] = now
        text = frame("typing", {"user_id": sender_id})
        await self.hub.publish([HubMessage(recipient_id, Kind.EPHEMERAL, ((0, text),))])

    def _forget_typing_before(self, moment: float) -> None:
        for key in [k for k, at in self._last_typing.items() if at < moment]:
            del self._last_typing[key]

    async def _announce(
        self, user_id: str, *, online: bool, friends: list[str] | None = None
    ) -> None:
        if friends is None:
            async with self._db.read() as conn:
                friends = await friends_repo.friend_ids(conn, user_id)
        text = frame(
            "presence",
            {"user_id": user_id, "online": online, "last_seen": timestamp(self._clock.now())},
        )
        await self.hub.publish([HubMessage(f, Kind.EPHEMERAL, ((0, text),)) for f in friends])

    async def _friends_and_last_seen(
        self, user_id: str
    ) -> tuple[list[str], dict[str, datetime | None]]:
        async with self._db.read() as conn:
            friends = await friends_repo.friend_ids(conn, user_id)
            return friends, await users_repo.last_seen(conn, friends)

    async def _send_friends_presence(
        self, connection: Connection, friends: list[str], seen: dict[str, datetime | None]
    ) -> None:
        """Tell one socket whether each friend is online (and when they were last seen)."""
        for text in (await self._presence_frames(friends, seen)).values():
            connection.push_frame(text)

    async def _presence_frames(
        self, user_ids: list[str], seen: dict[str, datetime | None]
    ) -> dict[str, str]:
        """A ``presence`` frame for each user: online anywhere in the cluster, or last seen."""
        now = timestamp(self._clock.now())
        online_now = await self.presence.online_among(user_ids)
        frames = {}
        for user_id in user_ids:
            online = user_id in online_now
            last_seen = now if online else timestamp(seen.get(user_id))
            frames[user_id] = frame(
                "presence", {"user_id": user_id, "online": online, "last_seen": last_seen}
            )
        return frames
