"""Helpers for tests that use the Python SDK (``gkchat.client``) against real servers.

Waits are bounded by ``asyncio.timeout(DEADLINE)``: a deadline for something that must happen,
never a pause that lets something happen.
"""

import asyncio
from collections.abc import Callable
from typing import cast

from gkchat.client import Client, Event, FriendRequest, RealtimeConnection
from gkchat.client.realtime import EventStream

PASSWORD = "a long and unusual passphrase"
DEADLINE = 30.0

EventSource = RealtimeConnection | EventStream


def user_id(client: Client) -> str:
    assert client.user is not None, "not signed in"
    return client.user["id"]


def username(client: Client) -> str:
    assert client.user is not None, "not signed in"
    return client.user["username"]


async def befriend(one: Client, other: Client) -> None:
    request = await one.send_friend_request(user_id(other))
    assert "from_user" in request, request
    await other.accept_friend_request(cast(FriendRequest, request)["id"])


async def next_event(source: EventSource, wanted: Callable[[Event], bool]) -> Event:
    """The next event from ``source`` that ``wanted`` accepts, skipping the others."""
    async with asyncio.timeout(DEADLINE):
        async for event in source:
            if wanted(event):
                return event
    raise AssertionError("the event source ended")
