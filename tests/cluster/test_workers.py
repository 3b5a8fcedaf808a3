"""``gkchat serve --workers 2`` on one machine: two processes behind one port sharing an
SQLite file and Redis. SQLite locks across processes: writers wait for each other (BEGIN
IMMEDIATE and the busy timeout) instead of failing."""

import asyncio
from collections.abc import Iterator

import pytest

from gkchat.client import Client
from tests.support.cluster import Accounts, of_type
from tests.support.process import ServerProcess, clean_environment
from tests.support.redis import forget, isolated, shared_redis_url
from tests.support.sdk import next_event, user_id

PAIRS = 4
MESSAGES = 25


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("workers")
    hub_url = isolated(shared_redis_url())
    env = clean_environment(
        GKCHAT_DATA_DIR=str(directory / "data"),
        GKCHAT_RATE_LIMITS="off",
        GKCHAT_HUB_URL=hub_url,
    )
    server = ServerProcess("sqlite", env, directory, ("--workers", "2"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
        forget(hub_url)


async def test_concurrent_sends_through_two_workers_are_all_stored(
    accounts: Accounts, workers: ServerProcess
) -> None:
    """Senders on both workers writing to one SQLite file at once all succeed."""
    pairs = [await accounts.friends(workers, workers) for _ in range(PAIRS)]

    await asyncio.gather(
        *(
            alice.send_message(user_id(bob), f"message {index}")
            for alice, bob in pairs
            for index in range(MESSAGES)
        )
    )

    for alice, bob in pairs:
        stored = [message async for message in bob.iter_history(user_id(alice))]
        assert len(stored) == MESSAGES


async def test_sockets_on_either_worker_get_what_the_other_stores(
    accounts: Accounts, workers: ServerProcess
) -> None:
    """Whichever worker holds a socket, messages sent through any worker reach it."""
    pairs = [await accounts.friends(workers, workers) for _ in range(PAIRS)]
    async with asyncio.TaskGroup() as group:
        for alice, bob in pairs:
            group.create_task(_receives_what_is_sent(alice=alice, bob=bob))


async def _receives_what_is_sent(*, alice: Client, bob: Client) -> None:
    async with bob.connect() as socket:
        for index in range(3):
            sent = await alice.send_message(user_id(bob), f"hello {index}")
            await next_event(socket, of_type("message.created", id=sent["id"]))
