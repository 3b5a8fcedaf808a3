"""The opening ``ready`` frame and resuming a stream with ``?since=<cursor>``."""

import json

from tests.support.factories import UserFactory
from tests.support.messaging import fresh_cursor
from tests.support.server import RunningServer
from tests.support.ws import befriended, open_ws, send_rest


async def test_first_frame_is_ready_with_the_current_cursor(
    server: RunningServer, users: UserFactory
) -> None:
    """A new socket first gets ``ready`` carrying the user's current stream cursor."""
    alice, _bob = await befriended(users)
    cursor = await fresh_cursor(alice)
    async with open_ws(server, alice.token) as ws:
        first = json.loads(await ws.connection.recv())

    assert first["type"] == "ready"
    assert first["data"] == {
        "cursor": cursor,
        "user_id": alice.id,
        "session_id": first["data"]["session_id"],
    }


async def test_since_delivers_stored_then_live_events_exactly_once(
    server: RunningServer, users: UserFactory
) -> None:
    """With ?since=, the socket sends every event after the cursor, then live ones, once each."""
    alice, bob = await befriended(users)
    cursor = await fresh_cursor(bob)
    stored = [await send_rest(alice, bob.id, f"while away {i}") for i in range(12)]
    async with open_ws(server, bob.token, since=cursor) as ws:
        live = await send_rest(alice, bob.id, "live")
        received: list[str] = []
        while len(received) < 13:
            frame = await ws.recv_until("message.created")
            received.append(frame["data"]["message"]["id"])
        extra = await ws.ping()

    assert received == [m["id"] for m in stored] + [live["id"]]
    assert [f for f in extra if f["type"] == "message.created"] == []


async def test_since_ahead_of_the_stream_starts_at_the_head(
    server: RunningServer, users: UserFactory
) -> None:
    """A cursor beyond the stream's end starts at the end and still gets live events."""
    alice, bob = await befriended(users)
    async with open_ws(server, bob.token, since="999999") as ws:
        ready = json.loads(await ws.connection.recv())
        live = await send_rest(alice, bob.id, "hello")
        frame = await ws.recv_until("message.created")

    assert int(ready["data"]["cursor"]) < 999999
    assert frame["data"]["message"]["id"] == live["id"]
