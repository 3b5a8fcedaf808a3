"""Redis may restart under a running cluster: sends never fail, nothing stored is lost, and
live delivery comes back by itself. The nodes use a private redis-server that the tests kill
and start again (never the shared one)."""

import asyncio
from collections.abc import Iterator

import pytest

from gkchat.client import Message
from tests.support.cluster import Accounts, cluster, of_type
from tests.support.process import ServerProcess
from tests.support.redis import RedisServer, private_redis, shared_redis_url
from tests.support.sdk import next_event, user_id

STREAM = 60


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    shared_redis_url()  # these tests run where the Redis tests run
    with private_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, redis_server: RedisServer
) -> Iterator[list[ServerProcess]]:
    with cluster(tmp_path_factory.mktemp("cluster"), worker_id, redis_server.url) as servers:
        yield servers


@pytest.fixture
def redis_down(redis_server: RedisServer) -> Iterator[RedisServer]:
    """Redis stopped for the test (and running again after it)."""
    redis_server.stop()
    yield redis_server
    if redis_server.process is None:
        redis_server.start()


async def test_sends_succeed_while_redis_is_down(
    accounts: Accounts, nodes: list[ServerProcess], redis_down: RedisServer
) -> None:
    """REST sends and WebSocket sends are stored and answered with Redis gone."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])

    by_rest = await alice.send_message(user_id(bob), "over REST")
    async with alice.connect() as socket:
        by_socket = await socket.send_message(user_id(bob), "over the socket")

    history = await bob.history(user_id(alice))
    assert {m["id"] for m in history} == {by_rest["id"], by_socket["id"]}


async def test_a_message_sent_while_redis_was_down_arrives_once_it_is_back(
    accounts: Accounts, nodes: list[ServerProcess], redis_down: RedisServer
) -> None:
    """A message whose hint was lost reaches the connected recipient when Redis is back."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    await asyncio.to_thread(redis_down.start)
    async with bob.connect() as socket:
        await asyncio.to_thread(redis_down.stop)
        sent = await alice.send_message(user_id(bob), "sent into the void")
        await asyncio.to_thread(redis_down.start)

        await next_event(socket, of_type("message.created", id=sent["id"]))


async def test_no_message_is_lost_when_redis_restarts_mid_stream(
    accounts: Accounts, nodes: list[ServerProcess], redis_server: RedisServer
) -> None:
    """A recipient connected through a Redis restart gets every message once, in order."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    sent: list[Message] = []
    async with bob.connect() as socket:
        for index in range(STREAM):
            if index == STREAM // 3:
                await asyncio.to_thread(redis_server.stop)
            if index == 2 * STREAM // 3:
                await asyncio.to_thread(redis_server.start)
            sent.append(await alice.send_message(user_id(bob), f"message {index}"))

        received = [
            (await next_event(socket, of_type("message.created"))).data["message"]["id"]
            for _ in sent
        ]

    assert received == [m["id"] for m in sent]


async def test_live_delivery_resumes_by_itself_after_a_restart(
    accounts: Accounts, nodes: list[ServerProcess], redis_server: RedisServer
) -> None:
    """After Redis is back, every new message reaches the other node live."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    async with bob.connect() as socket:
        await asyncio.to_thread(redis_server.stop)
        await asyncio.to_thread(redis_server.start)

        for index in range(5):
            sent = await alice.send_message(user_id(bob), f"after the restart {index}")
            await next_event(socket, of_type("message.created", id=sent["id"]))
