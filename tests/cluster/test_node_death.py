"""A node killed with SIGKILL says goodbye to nobody: its users still go offline for their
friends on the other node within GKCHAT_PRESENCE_TIMEOUT, and what it acknowledged stays."""

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import Accounts, cluster, of_type
from tests.support.process import ServerProcess
from tests.support.redis import shared_redis_url
from tests.support.sdk import next_event, user_id

PRESENCE_TIMEOUT = 4.0  # a dead node is noticed within 3/4 of it, plus the announcement
IN_FLIGHT = 60


@pytest.fixture
def nodes(tmp_path: Path, worker_id: str) -> Iterator[list[ServerProcess]]:
    """Two fresh nodes (a test kills one) that notice a dead node quickly."""
    with cluster(
        tmp_path, worker_id, shared_redis_url(), presence_timeout=str(PRESENCE_TIMEOUT)
    ) as servers:
        yield servers


async def test_users_of_a_killed_node_go_offline_within_the_presence_timeout(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """Bob, on node B, hears that Alice went offline soon after her node A was killed."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    async with bob.connect() as socket, alice.connect():
        await next_event(socket, of_type("presence", user_id=user_id(alice), online=True))
        nodes[0].kill()
        killed_at = time.monotonic()

        await next_event(socket, of_type("presence", user_id=user_id(alice), online=False))

    assert time.monotonic() - killed_at <= PRESENCE_TIMEOUT


async def test_messages_acknowledged_before_a_node_is_killed_are_all_stored(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """Killed with sends in flight, node A had stored every message it acknowledged."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    async with alice.connect() as socket:
        sends = [
            asyncio.create_task(socket.send_message(user_id(bob), f"in flight {index}"))
            for index in range(IN_FLIGHT)
        ]
        await asyncio.wait(sends[: IN_FLIGHT // 3])
        nodes[0].kill()
        outcomes = await asyncio.gather(*sends, return_exceptions=True)

    acked = {outcome["id"] for outcome in outcomes if isinstance(outcome, dict)}
    stored = {message["id"] async for message in bob.iter_history(user_id(alice))}
    assert len(acked) >= IN_FLIGHT // 3
    assert acked <= stored
