"""What the Redis hub adds to the contract: Redis may go away and come back.

Tests that stop Redis use their own ``redis-server`` on a free port, never the shared one.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gkchat.realtime.hub import HubMessage, Kind
from tests.support.hubs import Node, eventually, new_user_id, running_node
from tests.support.process import free_port
from tests.support.redis import RedisServer, isolated, private_redis, shared_redis_url

FAST_PRESENCE = timedelta(seconds=0.4)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    shared_redis_url()  # these tests run where the Redis tests run
    with private_redis(tmp_path) as server:
        yield server


@pytest.fixture
async def two_nodes(redis_server: RedisServer) -> AsyncIterator[tuple[Node, Node]]:
    async with (
        running_node(redis_server.url, presence_timeout=FAST_PRESENCE) as one,
        running_node(redis_server.url, presence_timeout=FAST_PRESENCE) as other,
    ):
        yield one, other


def hint(user: str, seq: int = 1) -> HubMessage:
    return HubMessage(user, Kind.EVENTS, ((seq, f"event {seq}"),))


async def test_publishing_while_redis_is_unreachable_returns_at_once() -> None:
    """With nothing listening on Redis's port, publish neither raises nor waits."""
    async with running_node(f"redis://127.0.0.1:{free_port()}/0", connected=False) as node:
        async with asyncio.timeout(1):
            await node.hub.publish([hint(new_user_id())])


async def test_subscribing_while_redis_is_unreachable_returns_at_once() -> None:
    """A socket can connect while Redis is away: subscribing does not fail or hang."""
    async with running_node(f"redis://127.0.0.1:{free_port()}/0", connected=False) as node:
        async with asyncio.timeout(1):
            await node.connect(new_user_id())


async def test_the_hub_resyncs_once_redis_is_back(
    two_nodes: tuple[Node, Node], redis_server: RedisServer
) -> None:
    """After a Redis restart the hub asks its connections to read what they missed."""
    _, subscriber = two_nodes
    resyncs = subscriber.resyncs

    await asyncio.to_thread(redis_server.stop)
    await asyncio.to_thread(redis_server.start)

    async def resynced() -> bool:
        return subscriber.resyncs > resyncs

    await eventually(resynced, "no resync after Redis came back")


async def test_subscriptions_survive_a_redis_restart(
    two_nodes: tuple[Node, Node], redis_server: RedisServer
) -> None:
    """Users subscribed before Redis restarted get messages published after it."""
    publisher, subscriber = two_nodes
    user = new_user_id()
    await subscriber.connect(user)
    resyncs = subscriber.resyncs

    await asyncio.to_thread(redis_server.stop)
    await asyncio.to_thread(redis_server.start)

    async def resubscribed() -> bool:
        return subscriber.resyncs > resyncs

    await eventually(resubscribed, "the subscriber never came back")
    await publisher.hub.publish([hint(user)])
    assert await subscriber.receive() == hint(user)


async def test_a_user_stays_online_while_another_node_holds_them(
    two_nodes: tuple[Node, Node],
) -> None:
    """A user on two nodes who leaves one is still online, and offline once both let go."""
    one, other = two_nodes
    user = new_user_id()
    await one.connect(user)
    await other.connect(user)

    assert await one.disconnect(user) is False
    assert await one.presence.online_among([user]) == {user}
    assert await other.disconnect(user) is True


async def test_presence_is_written_back_after_a_redis_restart(
    two_nodes: tuple[Node, Node], redis_server: RedisServer
) -> None:
    """Redis forgets everything when it restarts; each node tells it again who it holds."""
    holding, asking = two_nodes
    user = new_user_id()
    await holding.connect(user)

    await asyncio.to_thread(redis_server.stop)
    await asyncio.to_thread(redis_server.start)

    async def online_again() -> bool:
        return await asking.presence.online_among([user]) == {user}

    await eventually(online_again, "the user never came back online")


async def test_deployments_with_different_prefixes_do_not_hear_each_other() -> None:
    """Two hubs on one Redis under different prefixes share neither messages nor presence."""
    url = shared_redis_url()
    async with running_node(isolated(url)) as ours, running_node(isolated(url)) as theirs:
        user, only_ours = new_user_id(), new_user_id()
        await ours.connect(user)
        await ours.connect(only_ours)
        await theirs.connect(user)

        await theirs.hub.publish([hint(user, 1)])
        await ours.hub.publish([hint(user, 2)])

        assert await ours.receive() == hint(user, 2)
        assert await theirs.presence.online_among([only_ours]) == set()
