"""Frames a client may get wrong, ping/pong, the 64 KiB limit and idle reaping.

Contract: a frame that is not valid JSON, binary, or of an unknown type gets an ``error`` frame
and the connection goes on; a frame over 64 KiB closes the connection with 1009; neither harms
the server or other connections. Idle connections are reaped (``ws_idle_timeout``).
"""

import asyncio
import json
import re
from typing import Any

from gkchat.realtime.socket_writes import sansio_protocol
from tests.conftest import ServerStarter
from tests.support.factories import UserFactory
from tests.support.server import RunningServer
from tests.support.ws import (
    CLOSE_GOING_AWAY,
    CLOSE_TOO_BIG,
    Frame,
    WsClient,
    befriended,
    open_ws,
    send_rest,
    wait_for_connections,
)

MAX_FRAME_BYTES = 64 * 1024
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")


def assert_error_frame(frame: Frame) -> None:
    """``frame`` is {"type": "error", "data": {"code": <snake_case>, "message": <text>, ...}}."""
    assert frame["type"] == "error", frame
    assert "cursor" not in frame, frame
    data = frame["data"]
    assert isinstance(data["code"], str), frame
    assert SNAKE_CASE.match(data["code"]), frame
    assert isinstance(data["message"], str), frame
    assert data["message"].strip(), frame


async def error_then_pong(ws: WsClient) -> Frame:
    """After a bad frame: exactly one error frame comes back, and the socket still pongs."""
    frames = await ws.ping()
    assert len(frames) == 1, frames
    assert_error_frame(frames[0])
    return frames[0]


def send_frame_of_size(recipient_id: str, size: int, char: str = "x") -> str:
    """A message.send frame of exactly ``size`` UTF-8 bytes (its content is too long)."""

    def build(n: int) -> str:
        return json.dumps(
            {
                "type": "message.send",
                "data": {"recipient_id": recipient_id, "content": char * n, "client_id": "big"},
            },
            ensure_ascii=False,
        )

    overhead = len(build(0).encode())
    width = len(char.encode())
    count, rest = divmod(size - overhead, width)
    text = build(count) + " " * rest
    assert len(text.encode()) == size
    return text


async def test_ping_gets_pong(server: RunningServer, users: UserFactory) -> None:
    """{"type": "ping"} is answered with {"type": "pong"}."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        await ws.send_json({"type": "ping"})
        pong = await ws.recv_json()

    assert pong["type"] == "pong"
    assert "cursor" not in pong


async def test_invalid_json_gets_an_error_frame(server: RunningServer, users: UserFactory) -> None:
    """A text frame that is not JSON gets an error frame and the socket goes on."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        await ws.send_text('{"type": "ping"')
        await error_then_pong(ws)


async def test_binary_frame_gets_an_error_frame(server: RunningServer, users: UserFactory) -> None:
    """A binary frame gets an error frame and the socket goes on."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        await ws.send_bytes(b'{"type": "ping"}')
        await error_then_pong(ws)


async def test_unknown_type_gets_an_error_frame(server: RunningServer, users: UserFactory) -> None:
    """A frame of an unknown type gets an error frame and the socket goes on."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        await ws.send_json({"type": "teleport", "data": {}})
        await error_then_pong(ws)


async def test_json_that_is_not_an_object_gets_an_error_frame(
    server: RunningServer, users: UserFactory
) -> None:
    """Valid JSON that is not an object (a list, a string, null) gets an error frame each."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        for body in ('["ping"]', '"ping"', "null", "42"):
            await ws.send_text(body)
            await error_then_pong(ws)


async def test_frame_without_a_string_type_gets_an_error_frame(
    server: RunningServer, users: UserFactory
) -> None:
    """An object without a string "type" gets an error frame."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        bodies: list[dict[str, object]] = [{}, {"type": 7}, {"data": {}}]
        for body in bodies:
            await ws.send_json(body)
            await error_then_pong(ws)


async def test_message_send_missing_fields_gets_an_error_frame(
    server: RunningServer, users: UserFactory
) -> None:
    """message.send without recipient_id or content gets an error frame echoing client_id."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as ws:
        for data in (
            {"content": "no recipient", "client_id": "c-1"},
            {"recipient_id": bob.id, "client_id": "c-1"},
            {"recipient_id": bob.id, "content": 12, "client_id": "c-1"},
        ):
            await ws.send_json({"type": "message.send", "data": data})
            error = await error_then_pong(ws)
            assert error["data"]["client_id"] == "c-1", error

    history = await alice.get(f"/conversations/{bob.id}/messages")
    assert history.json()["messages"] == []


async def test_message_send_without_data_gets_an_error_frame(
    server: RunningServer, users: UserFactory
) -> None:
    """message.send with no data object at all gets an error frame."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        await ws.send_json({"type": "message.send"})
        await error_then_pong(ws)
        await ws.send_json({"type": "message.send", "data": "hello"})
        await error_then_pong(ws)


async def test_message_send_with_invalid_content_gets_an_error_frame(
    server: RunningServer, users: UserFactory
) -> None:
    """message.send with only whitespace or over 4,000 code points gets an error frame."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as ws:
        for i, content in enumerate(("   \n\t", "x" * 4001)):
            await ws.send_message(bob.id, content, f"c-{i}")
            error = await error_then_pong(ws)
            assert error["data"]["client_id"] == f"c-{i}", error


async def test_socket_keeps_delivering_after_bad_frames(
    server: RunningServer, users: UserFactory
) -> None:
    """After a burst of bad frames the socket still sends and receives messages."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as ws:
        await ws.send_text("not json")
        await ws.send_bytes(b"\x00\x01")
        await ws.send_json({"type": "nope"})
        await ws.send_text("[]")
        errors = await ws.ping()
        assert [f["type"] for f in errors] == ["error"] * 4, errors
        await ws.send_message(bob.id, "still here", "c-1")
        ack = await ws.recv_until("message.ack")
        received = await send_rest(bob, alice.id, "me too")
        await ws.recv_matching("message.created", "id", received["id"])

    assert ack["data"]["message"]["content"] == "still here"


async def test_frame_over_64_kib_closes_with_1009(
    server: RunningServer, users: UserFactory
) -> None:
    """A text frame of 64 KiB + 1 byte closes that connection with 1009."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as ws:
        await ws.send_text(send_frame_of_size(bob.id, MAX_FRAME_BYTES + 1))
        await ws.expect_closed(CLOSE_TOO_BIG)


async def test_multibyte_frame_over_64_kib_closes_with_1009(
    server: RunningServer, users: UserFactory
) -> None:
    """A frame over 64 KiB of UTF-8 but fewer than 64 Ki characters closes with 1009."""
    alice, bob = await befriended(users)
    text = send_frame_of_size(bob.id, MAX_FRAME_BYTES + 3, char="é")
    assert len(text) < MAX_FRAME_BYTES

    async with open_ws(server, alice.token) as ws:
        await ws.send_text(text)
        await ws.expect_closed(CLOSE_TOO_BIG)


async def test_binary_frame_over_64_kib_closes_with_1009(
    server: RunningServer, users: UserFactory
) -> None:
    """A binary frame over 64 KiB closes that connection with 1009."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        await ws.send_bytes(b"\x00" * (MAX_FRAME_BYTES + 1))
        await ws.expect_closed(CLOSE_TOO_BIG)


async def test_frame_of_exactly_64_kib_is_not_closed(
    server: RunningServer, users: UserFactory
) -> None:
    """A frame of exactly 64 KiB is answered (here: content too long) and the socket goes on."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as ws:
        await ws.send_text(send_frame_of_size(bob.id, MAX_FRAME_BYTES))
        error = await error_then_pong(ws)

    assert error["data"]["client_id"] == "big"


async def test_oversized_frame_does_not_harm_other_connections(
    server: RunningServer, users: UserFactory
) -> None:
    """While one user's socket is closed for a huge frame, another user's keeps receiving."""
    mallory, _ = await befriended(users)
    alice, bob = await befriended(users)

    async with open_ws(server, mallory.token) as bad, open_ws(server, bob.token) as good:
        await good.ping()
        await bad.send_text("x" * (4 * MAX_FRAME_BYTES))
        await bad.expect_closed(CLOSE_TOO_BIG)
        sent = await send_rest(alice, bob.id, "unaffected")
        created = await good.recv_until("message.created")
        assert [f for f in await good.ping() if f["type"].startswith("message.")] == []

    assert created["data"]["message"]["id"] == sent["id"]


async def test_oversized_frame_does_not_close_the_users_other_socket(
    server: RunningServer, users: UserFactory
) -> None:
    """Only the socket that sent the huge frame is closed, not the same user's other one."""
    alice, bob = await befriended(users)
    alice_phone = await users.login(alice.username)

    async with open_ws(server, alice.token) as bad, open_ws(server, alice_phone) as other:
        await other.ping()
        await bad.send_text("x" * (MAX_FRAME_BYTES + 1))
        await bad.expect_closed(CLOSE_TOO_BIG)
        sent = await send_rest(bob, alice.id, "to the phone")
        created = await other.recv_until("message.created")

    assert created["data"]["message"]["id"] == sent["id"]


async def test_idle_socket_is_closed_with_1001(start_server: ServerStarter) -> None:
    """A socket that sends nothing for ws_idle_timeout is closed with 1001 (real time, ~1 s)."""
    server = await start_server(ws_idle_timeout=1)
    users = UserFactory(server.api_url)
    async with users:
        alice = await users.register()
        async with open_ws(server, alice.token) as ws:
            frames = await ws.expect_closed(CLOSE_GOING_AWAY, timeout=10)

    assert [f for f in frames if f["type"] != "presence"] == []


async def test_pinging_socket_outlives_the_idle_timeout(start_server: ServerStarter) -> None:
    """A socket that pings every 0.3 s stays open well past ws_idle_timeout."""
    server = await start_server(ws_idle_timeout=1)
    users = UserFactory(server.api_url)
    async with users:
        alice = await users.register()
        async with open_ws(server, alice.token) as ws:
            loop = asyncio.get_running_loop()
            until = loop.time() + 2.5
            while loop.time() < until:
                assert await ws.ping() == []
                await asyncio.sleep(0.3)
            assert await ws.ping() == []


async def test_idle_socket_is_closed_while_the_users_busy_socket_stays(
    start_server: ServerStarter,
) -> None:
    """The idle timer is per socket: a silent one closes with 1001, a pinging one of the same
    user stays open."""
    server = await start_server(ws_idle_timeout=1)
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        phone_token = await users.login(alice.username)
        async with open_ws(server, alice.token) as busy, open_ws(server, phone_token) as silent:
            closing = asyncio.ensure_future(silent.expect_closed(CLOSE_GOING_AWAY, timeout=10))
            while not closing.done():
                assert await busy.ping() == []
                await asyncio.sleep(0.3)
            await closing
            assert await busy.ping() == []


async def test_frames_queued_together_leave_in_one_socket_write_and_in_order(
    server: RunningServer, users: UserFactory
) -> None:
    """A served socket writes the frames waiting in its queue together, and in order."""
    alice = await users.register()
    async with open_ws(server, alice.token) as ws:
        await wait_for_connections(server, alice.id, 1)
        (connection,) = server.app.state.services.gateway.registry.connections_of(alice.id)
        assert sansio_protocol(connection.websocket) is not None
        for n in range(5):
            connection.push_frame(json.dumps({"type": "test.frame", "data": {"n": n}}))
        frames = [await ws.recv_json() for _ in range(5)]
    assert [f["data"]["n"] for f in frames] == [0, 1, 2, 3, 4]


async def test_frames_queued_together_are_written_without_a_writer_task(
    server: RunningServer, users: UserFactory
) -> None:
    """When the transport takes data, one flush callback writes what was queued: no writer
    task is started for it."""
    alice = await users.register()
    async with open_ws(server, alice.token) as ws:
        await wait_for_connections(server, alice.id, 1)
        (connection,) = server.app.state.services.gateway.registry.connections_of(alice.id)
        started: list[asyncio.Task[object]] = []
        real_create_task = asyncio.get_running_loop().create_task

        def watch(coro: Any, **kwargs: Any) -> asyncio.Task[object]:
            task = real_create_task(coro, **kwargs)
            if "_drain" in repr(coro):
                started.append(task)
            return task

        loop = asyncio.get_running_loop()
        loop.create_task = watch  # type: ignore[method-assign,assignment]
        try:
            for n in range(3):
                connection.push_frame(json.dumps({"type": "test.frame", "data": {"n": n}}))
            frames = [await ws.recv_json() for _ in range(3)]
        finally:
            del loop.create_task
    assert [f["data"]["n"] for f in frames] == [0, 1, 2]
    assert started == []
