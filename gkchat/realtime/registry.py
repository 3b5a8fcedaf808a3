"""This process's connections, by user, and dispatch of hub messages to them."""

from collections import defaultdict

from gkchat.realtime.connection import Connection
from gkchat.realtime.hub import Hub, HubMessage, Kind

CLOSE_SESSION_REVOKED = 4401


class ConnectionRegistry:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._by_user: dict[str, set[Connection]] = defaultdict(set)
        hub.set_listener(self.dispatch)

    async def add(self, connection: Connection) -> bool:
        """Register a connection; True when it is the user's first in this process."""
        connections = self._by_user[connection.user_id]
        first = not connections
        connections.add(connection)
        if first:
            await self._hub.subscribe(connection.user_id)
        return first

    async def remove(self, connection: Connection) -> bool:
        """Forget a connection; True when it was the user's last in this process."""
        connections = self._by_user.get(connection.user_id)
        if not connections or connection not in connections:
            return False
        connections.discard(connection)
        if connections:
            return False
        del self._by_user[connection.user_id]
        await self._hub.unsubscribe(connection.user_id)
        return True

    def is_connected(self, user_id: str) -> bool:
        return bool(self._by_user.get(user_id))

    def connections_of(self, user_id: str) -> list[Connection]:
        return list(self._by_user.get(user_id, ()))

    def all(self) -> list[Connection]:
        return [c for connections in self._by_user.values() for c in connections]

    def user_ids(self) -> list[str]:
        return list(self._by_user)

    def resync(self) -> None:
        """Make every connection read what it may have missed from the database."""
        for connection in self.all():
            connection.resync()

    def dispatch(self, message: HubMessage) -> None:
        for connection in list(self._by_user.get(message.user_id, ())):
            if message.kind is Kind.EVENTS:
                for seq, text in message.frames:
                    connection.push_event(seq, text)
            elif message.kind is Kind.EPHEMERAL:
                for _, text in message.frames:
                    connection.push_frame(text)
            elif message.kind is Kind.CLOSE_SESSIONS and (
                not message.session_ids or connection.session_id in message.session_ids
            ):
                connection.close(CLOSE_SESSION_REVOKED, "session ended")
