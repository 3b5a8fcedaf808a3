"""Hubs as server processes use them, for hub and presence tests without a server."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from gkchat.realtime.hub import Hub, HubMessage, create_hub
from gkchat.realtime.presence import Presence
from gkchat.realtime.redis_hub import RedisHub

DEADLINE = 10.0


class LocalUsers:
    """The users a node holds sockets of (what the connection registry tells presence)."""

    def __init__(self) -> None:
        self.users: set[str] = set()

    def is_connected(self, user_id: str) -> bool:
        return user_id in self.users

    def user_ids(self) -> list[str]:
        return sorted(self.users)


class Node:
    """One process's hub, the messages its listener got, and its presence."""

    def __init__(self, hub: Hub, *, presence_timeout: timedelta) -> None:
        self.hub = hub
        self.local = LocalUsers()
        self.presence: Presence = hub.presence(self.local, timeout=presence_timeout)
        self.inbox: asyncio.Queue[HubMessage] = asyncio.Queue()
        self.resyncs = 0
        hub.set_listener(self.inbox.put_nowait)
        hub.on_resync(self._resynced)

    async def _resynced(self) -> None:
        self.resyncs += 1

    async def receive(self) -> HubMessage:
        async with asyncio.timeout(DEADLINE):
            return await self.inbox.get()

    async def connect(self, user_id: str) -> None:
        """A first socket of the user arrives here."""
        self.local.users.add(user_id)
        await self.hub.subscribe(user_id)
        await self.presence.arrived(user_id)

    async def disconnect(self, user_id: str) -> bool:
        """The user's last socket here goes; True when they are offline everywhere."""
        self.local.users.discard(user_id)
        await self.hub.unsubscribe(user_id)
        return await self.presence.left(user_id)

    async def wait_connected(self) -> None:
        if isinstance(self.hub, RedisHub):
            async with asyncio.timeout(DEADLINE):
                await self.hub.connected.wait()


@asynccontextmanager
async def running_node(
    url: str, *, presence_timeout: timedelta = timedelta(seconds=30), connected: bool = True
) -> AsyncIterator[Node]:
    """A started node; ``connected`` waits until its hub is listening."""
    node = Node(create_hub(url), presence_timeout=presence_timeout)
    await node.hub.start()
    await node.presence.start()
    try:
        if connected:
            await node.wait_connected()
        yield node
    finally:
        await node.presence.stop()
        await node.hub.stop()


async def eventually(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait until ``condition()`` holds, failing after the deadline."""
    try:
        async with asyncio.timeout(DEADLINE):
            while not await condition():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"{what}: not within {DEADLINE} s") from None


def new_user_id() -> str:
    """A user id no other test (or test run) on the shared Redis uses."""
    return uuid.uuid4().hex
