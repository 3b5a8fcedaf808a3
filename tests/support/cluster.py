"""Several real ``gkchat serve`` processes sharing one PostgreSQL database and one Redis hub,
and SDK clients signed in through whichever node a test picks."""

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from gkchat.client import Client, Event, RealtimeConnection
from tests.support import databases
from tests.support.process import ServerProcess, clean_environment
from tests.support.redis import forget, isolated
from tests.support.sdk import DEADLINE, PASSWORD, befriend, username


@contextmanager
def cluster(
    directory: Path,
    worker_id: str,
    redis_url: str,
    *,
    nodes: int = 2,
    args: Sequence[str] = (),
    **settings: str,
) -> Iterator[list[ServerProcess]]:
    """``nodes`` started servers on a fresh PostgreSQL database and ``redis_url``, with
    GKCHAT_<NAME> set from ``settings``; skips unless GKCHAT_TEST_POSTGRES_URL is set."""
    admin_url = databases.postgres_admin_url()
    if admin_url is None:
        pytest.skip(f"cluster tests need {databases.POSTGRES_ENV}=postgresql://user@host/db")
    name = f"{databases.scratch_name('cluster', worker_id)}_{secrets.token_hex(3)}"
    hub_url = isolated(redis_url)
    env = clean_environment(
        GKCHAT_DATABASE_URL=asyncio.run(databases.create_postgres_database(admin_url, name)),
        GKCHAT_HUB_URL=hub_url,
        GKCHAT_RATE_LIMITS="off",
        **{f"GKCHAT_{key.upper()}": value for key, value in settings.items()},
    )
    servers: list[ServerProcess] = []
    try:
        for index in range(nodes):
            node_directory = directory / f"node{index}"
            node_directory.mkdir()
            servers.append(ServerProcess("postgres", env, node_directory, args))
            servers[-1].start()
        yield servers
    finally:
        for server in servers:
            server.stop()
        asyncio.run(databases.drop_postgres_database(admin_url, name))
        with contextlib.suppress(redis.RedisError):  # a test may have stopped this Redis
            forget(hub_url)


class Accounts:
    """Registers users through the SDK on any node and closes every client at the end."""

    def __init__(self) -> None:
        self._clients: list[Client] = []

    def client(self, node: ServerProcess, *, token: str | None = None) -> Client:
        client = Client(node.base_url, token=token)
        self._clients.append(client)
        return client

    async def register(self, node: ServerProcess, prefix: str = "user") -> Client:
        client = self.client(node)
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        await client.register(name, f"{name}@example.com", PASSWORD)
        return client

    def via(self, node: ServerProcess, user: Client) -> Client:
        """The same session as ``user``, through ``node``."""
        client = self.client(node, token=user.token)
        client.user = user.user
        return client

    async def sign_in(self, node: ServerProcess, user: Client) -> Client:
        """A new session of ``user`` (another device), through ``node``."""
        client = self.client(node)
        await client.login(username(user), PASSWORD)
        return client

    async def friends(self, one: ServerProcess, other: ServerProcess) -> tuple[Client, Client]:
        """Two new friends, the first signed in through ``one``, the second through ``other``."""
        first, second = await self.register(one, "alice"), await self.register(other, "bob")
        await befriend(first, second)
        return first, second

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


def of_type(kind: str, **data: object) -> Callable[[Event], bool]:
    """Matches events of type ``kind`` whose data has these values (or whose message has)."""

    def matches(event: Event) -> bool:
        if event.type != kind:
            return False
        message = event.data.get("message") or {}
        return all(event.data.get(key, message.get(key)) == value for key, value in data.items())

    return matches


async def events_until(source: RealtimeConnection, last: Callable[[Event], bool]) -> list[Event]:
    """Every event from ``source`` up to and including the first that ``last`` accepts."""
    seen: list[Event] = []
    async with asyncio.timeout(DEADLINE):
        async for event in source:
            seen.append(event)
            if last(event):
                return seen
    raise AssertionError(f"the connection ended after {seen}")
