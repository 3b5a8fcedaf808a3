"""A typed WebSocket test client for ``/api/v1/ws`` on a running test server.

``open_ws`` connects with a Bearer header, a session cookie or first-frame auth and yields a
``WsClient``. Every wait has a deadline: a frame that never comes fails the test instead of
hanging it. Presence frames are ephemeral and arrive whenever friends come and go, so the
readers skip them unless asked for.
"""

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from tests.support.factories import SignedInUser, UserFactory, befriend
from tests.support.server import RunningServer

DEFAULT_TIMEOUT = 5.0
SESSION_COOKIE = "gkchat_session"
# A bad or missing token closes with 4401 after the handshake; the contract also allows a 401
# refusal of the handshake itself.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_GOING_AWAY = 1001
CLOSE_ABNORMAL = 1006
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN_LATER = 1013

Frame = dict[str, Any]


def ws_url(server: RunningServer) -> str:
    return server.base_url.replace("http://", "ws://", 1) + "/api/v1/ws"


def server_port(server: RunningServer) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def host_origin(server: RunningServer) -> str:
    """The Origin a browser sends for a page served by the test server itself."""
    return server.base_url


class WsClient:
    """One WebSocket connection with JSON helpers that never wait forever."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send_json(self, body: object) -> None:
        await self.connection.send(json.dumps(body))

    async def send_text(self, text: str) -> None:
        await self.connection.send(text)

    async def send_bytes(self, data: bytes) -> None:
        await self.connection.send(data)

    async def send_message(self, recipient_id: str, content: str, client_id: str) -> None:
        await self.send_json(
            {
                "type": "message.send",
                "data": {"recipient_id": recipient_id, "content": content, "client_id": client_id},
            }
        )

    async def send_typing(self, recipient_id: str) -> None:
        await self.send_json({"type": "typing", "data": {"recipient_id": recipient_id}})

    async def _recv_frame(self, timeout: float) -> Frame:
        try:
            raw = await asyncio.wait_for(self.connection.recv(), timeout)
        except TimeoutError:
            raise AssertionError(f"no frame within {timeout} s") from None
        assert isinstance(raw, str), f"expected a text frame, got {raw!r}"
        body = json.loads(raw)
        assert isinstance(body, dict), body
        assert isinstance(body.get("type"), str), body
        return body

    async def recv_json(self, timeout: float = DEFAULT_TIMEOUT, *, presence: bool = False) -> Frame:
        """The next frame, skipping the opening ``ready`` frame and presence frames (unless
        ``presence``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            body = await self._recv_frame(max(deadline - loop.time(), 0.0))
            if body["type"] == "ready":
                continue
            if presence or body["type"] != "presence":
                return body

    async def recv_until(
        self,
        frame_type: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        skipped: list[Frame] | None = None,
    ) -> Frame:
        """Read until a frame of ``frame_type``; frames read on the way go to ``skipped``.

        Presence frames are skipped (and not collected) unless ``frame_type`` is ``presence``.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: list[Frame] = []
        while True:
            try:
                body = await self.recv_json(
                    max(deadline - loop.time(), 0.0), presence=frame_type == "presence"
                )
            except AssertionError:
                raise AssertionError(
                    f"no {frame_type!r} frame within {timeout} s; saw {seen}"
                ) from None
            if body["type"] == frame_type:
                return body
            seen.append(body)
            if skipped is not None:
                skipped.append(body)

    async def recv_matching(
        self, frame_type: str, key: str, value: object, timeout: float = DEFAULT_TIMEOUT
    ) -> Frame:
        """Read until a ``frame_type`` frame whose ``data[key]`` (or ``data.message[key]``) is
        ``value``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: list[Frame] = []
        while True:
            body = await self.recv_until(frame_type, max(deadline - loop.time(), 0.0), skipped=seen)
            data = body.get("data") or {}
            found = data.get(key, (data.get("message") or {}).get(key))
            if found == value:
                return body
            seen.append(body)

    async def ping(self, timeout: float = DEFAULT_TIMEOUT) -> list[Frame]:
        """Send a ping and return every non-presence frame that came before the pong.

        The server answers frames in order and pushes everything through one queue, so anything
        queued for this socket before the ping was handled comes back here.
        """
        await self.send_json({"type": "ping"})
        before: list[Frame] = []
        await self.recv_until("pong", timeout, skipped=before)
        return before

    async def expect_closed(
        self, code: int | Collection[int], timeout: float = DEFAULT_TIMEOUT
    ) -> list[Frame]:
        """Wait for the server to close the socket with ``code`` (one of them); return the
        frames read meanwhile (but the opening ``ready``)."""
        codes = {code} if isinstance(code, int) else set(code)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        frames: list[Frame] = []
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"still open after {timeout} s (wanted close {codes})")
            try:
                raw = await asyncio.wait_for(self.connection.recv(), remaining)
            except ConnectionClosed:
                break
            except TimeoutError:
                raise AssertionError(
                    f"still open after {timeout} s (wanted close {codes}); got {frames}"
                ) from None
            if isinstance(raw, str) and json.loads(raw).get("type") != "ready":
                frames.append(json.loads(raw))
        actual = self.connection.close_code
        assert actual in codes, (
            f"closed with {actual} {self.connection.close_reason!r}, not {codes}"
        )
        return frames

    async def close(self) -> None:
        await self.connection.close()


def _headers(token: str | None, cookie: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if cookie is not None:
        headers["Cookie"] = f"{SESSION_COOKIE}={cookie}"
    return headers


@asynccontextmanager
async def open_ws(
    server: RunningServer,
    token: str | None = None,
    *,
    cookie: str | None = None,
    origin: str | None = None,
    first_frame_token: str | None = None,
    max_queue: int | None = 16,
    compression: bool = True,
    receive_buffer: int | None = None,
    since: str | None = None,
) -> AsyncIterator[WsClient]:
    """Connect to the server's WebSocket, authenticated as asked (or not at all).

    ``max_queue`` bounds the frames the client buffers before it stops reading from the
    socket; ``compression=False`` turns off permessage-deflate so bytes on the wire are real;
    ``receive_buffer`` shrinks the kernel's receive buffer (SO_RCVBUF) for a client that is
    meant to stall; ``since`` resumes the stream after that cursor.
    """
    extra: dict[str, Any] = {}
    if receive_buffer is not None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server_port(server)))
        extra["sock"] = sock
    url = ws_url(server) if since is None else f"{ws_url(server)}?since={since}"
    async with connect(
        url,
        additional_headers=_headers(token, cookie),
        origin=Origin(origin) if origin is not None else None,
        proxy=None,
        open_timeout=DEFAULT_TIMEOUT,
        close_timeout=2,
        ping_interval=None,
        max_size=4 * 1024 * 1024,
        max_queue=max_queue,
        compression="deflate" if compression else None,
        **extra,
    ) as connection:
        client = WsClient(connection)
        if first_frame_token is not None:
            await client.send_json({"type": "auth", "token": first_frame_token})
        yield client


async def expect_refused(
    server: RunningServer,
    token: str | None = None,
    *,
    cookie: str | None = None,
    origin: str | None = None,
    first_frame_token: str | None = None,
    close_codes: Collection[int] = (CLOSE_UNAUTHENTICATED,),
    statuses: Collection[int] = (401,),
    timeout: float = DEFAULT_TIMEOUT,
) -> None:
    """The server refuses the socket: a handshake answer in ``statuses`` or a close in
    ``close_codes``, before any event reaches it."""
    try:
        async with open_ws(
            server, token, cookie=cookie, origin=origin, first_frame_token=first_frame_token
        ) as ws:
            frames = await ws.expect_closed(close_codes, timeout)
            assert not frames, f"a refused socket received {frames}"
    except InvalidStatus as exc:
        refused_with: int | None = exc.response.status_code
    else:
        return
    assert refused_with in statuses, f"the handshake was answered with {refused_with}"


async def befriended(users: UserFactory) -> tuple[SignedInUser, SignedInUser]:
    """Two new users who are friends."""
    a, b = await users.register(), await users.register()
    await befriend(a, b)
    return a, b


async def sync_all(user: SignedInUser, since: str) -> tuple[list[Frame], str]:
    """Every event after ``since``, following ``has_more``; and the final cursor."""
    events: list[Frame] = []
    cursor = since
    for _ in range(10_000):
        response = await user.client.get("/sync", params={"since": cursor})
        assert response.status_code == 200, response.text
        body = response.json()
        events.extend(body["events"])
        cursor = body["cursor"]
        if not body["has_more"]:
            return events, cursor
    raise AssertionError("/sync never stopped saying has_more")


async def send_rest(sender: SignedInUser, recipient_id: str, content: str) -> Frame:
    """Send a message over REST and return it."""
    response = await sender.client.post(
        "/messages", json={"recipient_id": recipient_id, "content": content}
    )
    assert response.status_code == 201, response.text
    message: Frame = response.json()["message"]
    return message


async def wait_for_connections(
    server: RunningServer, user_id: str, count: int, timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Wait until the server holds exactly ``count`` sockets of the user (it has finished
    registering or tearing down the ones that came or went)."""
    registry = server.app.state.services.gateway.registry
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(registry.connections_of(user_id)) != count:
        if loop.time() > deadline:
            held = len(registry.connections_of(user_id))
            raise AssertionError(f"the server holds {held} sockets of the user, not {count}")
        await asyncio.sleep(0.01)
