"""Offline and reconnect: Bob is offline while Alice sends 1,000 messages; his socket then
resumes with ``?since=<last cursor>`` and is cut 50 times in the middle of the catch-up
(the TCP connection aborted, no close handshake), while Alice keeps sending. Bob receives
every message exactly once, in order, without deduplicating anything himself."""

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncGenerator

import pytest

from tests.support.factories import SignedInUser, UserFactory
from tests.support.messaging import fresh_cursor, friends
from tests.support.server import RunningServer
from tests.support.ws import Frame, open_ws, send_rest

OFFLINE = 1_000
LIVE = 100  # sent while Bob reconnects over and over
DROPS = 50
DEADLINE = 120.0


@pytest.fixture
async def pair(users: UserFactory) -> tuple[SignedInUser, SignedInUser]:
    return await friends(users)


async def send_over_socket(
    server: RunningServer, sender: SignedInUser, to: str, count: int
) -> list[str]:
    """Send ``count`` messages down one socket at once; return their ids in sending order."""
    async with open_ws(server, sender.token, max_queue=None) as ws:
        await ws.ping(DEADLINE)
        for index in range(count):
            await ws.send_message(to, f"offline {index}", f"offline-{index}")
        acked: dict[str, str] = {}
        while len(acked) < count:
            frame = await ws.recv_json(DEADLINE)
            if frame["type"] == "message.ack":
                acked[frame["data"]["client_id"]] = frame["data"]["message"]["id"]
    return [acked[f"offline-{index}"] for index in range(count)]


async def frames(
    server: RunningServer, token: str, since: str
) -> AsyncGenerator[tuple[Frame, asyncio.Transport], None]:
    """Frames of one socket resumed after ``since``, each with the transport to abort it."""
    async with open_ws(server, token, since=since, max_queue=None) as ws:
        while True:
            raw = await asyncio.wait_for(ws.connection.recv(), DEADLINE)
            assert isinstance(raw, str)
            yield json.loads(raw), ws.connection.transport


async def test_a_catch_up_cut_fifty_times_delivers_every_message_once_in_order(
    server: RunningServer, pair: tuple[SignedInUser, SignedInUser]
) -> None:
    """1,000 missed messages and 100 live ones, the socket aborted 50 times mid-catch-up:
    each of the 1,100 arrives exactly once and in order."""
    alice, bob = pair
    cursor = await fresh_cursor(bob)
    expected = await send_over_socket(server, alice, bob.id, OFFLINE)
    drop_points = sorted(random.sample(range(1, OFFLINE), DROPS))

    async def live() -> list[str]:
        return [(await send_rest(alice, bob.id, f"live {i}"))["id"] for i in range(LIVE)]

    sending = asyncio.create_task(live())
    received: list[str] = []
    drops = 0
    async with asyncio.timeout(DEADLINE):
        while len(received) < OFFLINE + LIVE:
            stream = frames(server, bob.token, cursor)
            try:
                async for frame, transport in stream:
                    if "cursor" in frame:
                        cursor = str(frame["cursor"])
                    if frame["type"] == "message.created":
                        received.append(frame["data"]["message"]["id"])
                    if drops < DROPS and len(received) >= drop_points[drops]:
                        transport.abort()  # the network fails: no close frame, no FIN
                        drops += 1
                        break
                    if len(received) == OFFLINE + LIVE:
                        break
            finally:
                with contextlib.suppress(Exception):
                    await stream.aclose()
        expected += await sending

    assert drops == DROPS
    assert len(received) == len(set(received))
    assert received == expected
