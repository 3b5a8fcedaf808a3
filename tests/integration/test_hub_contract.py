"""The hub contract, on every backend: what one process publishes reaches every process
subscribed to the user, intact and in order, and presence follows sockets.

With ``memory://`` publisher and subscriber are one process; with ``redis://`` they are two
hubs, as on two nodes. The Redis run skips unless GKCHAT_TEST_REDIS_URL is set.
"""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from gkchat.realtime.hub import HubMessage, Kind
from tests.support.hubs import Node, new_user_id, running_node
from tests.support.redis import isolated, shared_redis_url

BACKENDS = ["memory", "redis"]


@pytest.fixture(params=BACKENDS)
async def nodes(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Node, Node]]:
    """(publisher, subscriber): one node on memory://, two on Redis."""
    async with AsyncExitStack() as stack:
        if request.param == "memory":
            node = await stack.enter_async_context(running_node("memory://"))
            yield node, node
        else:
            url = isolated(shared_redis_url())
            yield (
                await stack.enter_async_context(running_node(url)),
                await stack.enter_async_context(running_node(url)),
            )


MESSAGES = {
    "events": lambda user: HubMessage(user, Kind.EVENTS, ((7, '{"type":"x"}'), (8, "ünï"))),
    "ephemeral": lambda user: HubMessage(user, Kind.EPHEMERAL, ((0, '{"type":"typing"}'),)),
    "close some sessions": lambda user: HubMessage(
        user, Kind.CLOSE_SESSIONS, session_ids=("s1", "s2")
    ),
    "close every session": lambda user: HubMessage(user, Kind.CLOSE_SESSIONS),
}


@pytest.mark.parametrize("kind", MESSAGES)
async def test_a_published_message_reaches_the_subscriber_intact(
    nodes: tuple[Node, Node], kind: str
) -> None:
    """Every kind of message arrives exactly as it was published."""
    publisher, subscriber = nodes
    user = new_user_id()
    await subscriber.connect(user)
    message = MESSAGES[kind](user)

    await publisher.hub.publish([message])

    assert await subscriber.receive() == message


async def test_messages_arrive_in_publishing_order(nodes: tuple[Node, Node]) -> None:
    """Messages published one after another arrive in that order."""
    publisher, subscriber = nodes
    user = new_user_id()
    await subscriber.connect(user)
    sent = [HubMessage(user, Kind.EVENTS, ((seq, f"frame {seq}"),)) for seq in range(1, 101)]

    for message in sent:
        await publisher.hub.publish([message])

    assert [await subscriber.receive() for _ in sent] == sent


async def test_a_connected_user_is_online_for_every_node(nodes: tuple[Node, Node]) -> None:
    """A user with a socket on one node is online when another node asks."""
    asking, holding = nodes
    user, stranger = new_user_id(), new_user_id()

    await holding.connect(user)

    assert await asking.presence.online_among([user, stranger]) == {user}


async def test_a_user_is_offline_once_their_last_socket_has_gone(
    nodes: tuple[Node, Node],
) -> None:
    """When the user's last socket leaves, they are offline for every node."""
    asking, holding = nodes
    user = new_user_id()
    await holding.connect(user)

    assert await holding.disconnect(user) is True
    assert await asking.presence.online_among([user]) == set()
