"""The real-time side of the SDK: one WebSocket (:class:`RealtimeConnection`) and the
reconnecting event stream (:class:`EventStream`).

Cursors: the contract calls ``/sync`` cursors opaque. This module relies on one more property
of the GK-Chat server: a cursor is the decimal string of a per-user integer that grows with
each event. It uses that only to compare two cursors (with ``int()``), so that an event seen
both through ``/sync`` and live is yielded once. Nothing else about cursors is assumed.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, cast

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from gkchat.client.errors import APIError, RealtimeClosed
from gkchat.client.types import Event, Message

if TYPE_CHECKING:
    from gkchat.client.api import Client

KEEPALIVE_INTERVAL = 60.0
MAX_BACKOFF = 5.0
FIRST_BACKOFF = 0.1
CLOSE_BAD_TOKEN = 4401


class _End:
    """Marks the end of a connection's event queue."""


_END: Final = _End()


class RealtimeConnection:
    """One authenticated WebSocket to the server.

    - ``async for event in conn`` yields every frame the server pushes as an :class:`Event`
      (stream events with their ``cursor``; ``typing``, ``presence`` and stray ``error``
      frames without one). ``message.ack`` and ``pong`` frames are consumed here. Iteration
      ends when the connection closes normally and raises :class:`RealtimeClosed` (or
      :class:`APIError` with status 401 for close code 4401: a bad or revoked session) when
      it closes abnormally.
    - :meth:`send_message` sends ``message.send`` and returns the stored message once the
      server acknowledges it; :meth:`typing` and :meth:`ping` send the other client frames.

    A background task reads the socket all the time, so acknowledgements arrive even when
    nobody iterates; frames wait in memory until they are iterated. Get one from
    :meth:`Client.connect`.
    """

    def __init__(self, websocket: ClientConnection, *, keepalive: float | None) -> None:
        self._ws = websocket
        self._events: asyncio.Queue[Event | _End] = asyncio.Queue()
        self._acks: dict[str, list[asyncio.Future[Message]]] = {}
        self._pongs: deque[asyncio.Future[None]] = deque()
        self._error: Exception | None = None
        self._finished = False
        self._ended = False
        self._reader = asyncio.create_task(self._read_loop(), name="gkchat-ws-reader")
        self._keepalive = (
            asyncio.create_task(self._keepalive_loop(keepalive), name="gkchat-ws-keepalive")
            if keepalive
            else None
        )

    @property
    def closed(self) -> bool:
        """True once the socket has closed (either side)."""
        return self._finished

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._ended:
            raise StopAsyncIteration
        item = await self._events.get()
        if isinstance(item, _End):
            self._ended = True
            if self._error is not None:
                raise self._error
            raise StopAsyncIteration
        return item

    async def send_message(
        self,
        recipient_id: str,
        content: str,
        client_id: str | None = None,
    ) -> Message:
        """Send a message and return it once the server has stored it (its ``message.ack``).

        ``client_id`` (a random UUID when None) makes the send idempotent: if the connection
        drops before the ack, send again with the same ``client_id`` (here, on a new
        connection or with :meth:`Client.send_message`) and the server returns the same
        message. Raises :class:`APIError` (status None) for an ``error`` answer,
        :class:`RealtimeClosed` if the socket closes first. Wrap it in ``asyncio.timeout()``
        to bound the wait.
        """
        client_id = str(uuid.uuid4()) if client_id is None else client_id
        waiter: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._acks.setdefault(client_id, []).append(waiter)
        try:
            frame = {"recipient_id": recipient_id, "content": content, "client_id": client_id}
            await self._send({"type": "message.send", "data": frame})
            return await waiter
        finally:
            waiters = self._acks.get(client_id)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
                if not waiters:
                    del self._acks[client_id]
            _settle(waiter)

    async def typing(self, recipient_id: str) -> None:
        """Tell a friend you are typing. A refusal arrives as an ``error`` event."""
        await self._send({"type": "typing", "data": {"recipient_id": recipient_id}})

    async def ping(self) -> float:
        """Send an application ``ping`` and wait for the ``pong``; return the round trip in
        seconds. Frames sent before the pong have been received when this returns."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pongs.append(waiter)
        started = time.monotonic()
        try:
            await self._send({"type": "ping"})
            await waiter
        finally:
            with contextlib.suppress(ValueError):
                self._pongs.remove(waiter)
            _settle(waiter)
        return time.monotonic() - started

    async def close(self) -> None:
        """Close the socket (normal closure) and stop the background tasks."""
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        await self._ws.close()
        await self._reader

    async def _send(self, frame: dict[str, Any]) -> None:
        if self._finished:
            raise self._closed_error()
        try:
            await self._ws.send(json.dumps(frame, ensure_ascii=False))
        except ConnectionClosed as exc:
            raise _close_error(exc) from exc

    def _closed_error(self) -> Exception:
        if self._error is not None:
            return self._error
        return RealtimeClosed(1000, "the connection is closed")

    async def _read_loop(self) -> None:
        try:
            async for raw in self._ws:
                if isinstance(raw, str):
                    self._dispatch(raw)
        except ConnectionClosed as exc:
            self._error = _close_error(exc)
        except Exception as exc:  # the transport failed under us
            self._error = RealtimeClosed(1006, f"{type(exc).__name__}: {exc}")
        finally:
            self._finish()

    def _dispatch(self, raw: str) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            return
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return
        kind: str = body["type"]
        data = body.get("data")
        data = data if isinstance(data, dict) else {}
        if kind == "message.ack":
            for waiter in self._acks.pop(str(data.get("client_id")), []):
                if not waiter.done():
                    waiter.set_result(cast(Message, data.get("message")))
            return
        if kind == "error" and data.get("client_id") in self._acks:
            error = APIError.from_frame(data)
            for waiter in self._acks.pop(str(data["client_id"])):
                if not waiter.done():
                    waiter.set_exception(error)
            return
        if kind == "pong":
            while self._pongs:
                pong = self._pongs.popleft()
                if not pong.done():
                    pong.set_result(None)
                    break
            return
        cursor = body.get("cursor")
        self._events.put_nowait(Event(kind, data, None if cursor is None else str(cursor)))

    def _finish(self) -> None:
        self._finished = True
        error = self._closed_error()
        for waiters in self._acks.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(error)
        for pong in self._pongs:
            if not pong.done():
                pong.set_exception(error)
        self._events.put_nowait(_END)

    async def _keepalive_loop(self, interval: float) -> None:
        while not self._finished:
            await asyncio.sleep(interval)
            with contextlib.suppress(RealtimeClosed, APIError):
                await self._send({"type": "ping"})


def _settle(waiter: "asyncio.Future[Any]") -> None:
    """Mark a waiter's failure as seen when its caller left early (no asyncio warning)."""
    if waiter.done() and not waiter.cancelled():
        waiter.exception()
    else:
        waiter.cancel()


def _close_error(exc: ConnectionClosed) -> Exception:
    """The SDK exception for a closed socket (None-like codes become 1006)."""
    code = exc.rcvd.code if exc.rcvd is not None else 1006
    reason = exc.rcvd.reason if exc.rcvd is not None else ""
    if code == CLOSE_BAD_TOKEN:
        return APIError(401, "not_authenticated", reason or "The session is not valid.")
    return RealtimeClosed(code, reason)


@asynccontextmanager
async def connect(
    client: "Client", *, keepalive: float | None = KEEPALIVE_INTERVAL
) -> AsyncIterator[RealtimeConnection]:
    """Open and authenticate a WebSocket for ``client``; see :meth:`Client.connect`."""
    if client.token is None:
        raise APIError(401, "not_authenticated", "Sign in (or pass a token) before connecting.")
    try:
        websocket = await ws_connect(
            client.ws_url,
            additional_headers={"Authorization": f"Bearer {client.token}"},
            user_agent_header=client.user_agent,
            open_timeout=client.timeout,
        )
    except InvalidStatus as exc:
        raise _handshake_error(exc) from exc
    connection = RealtimeConnection(websocket, keepalive=keepalive)
    try:
        # A ping answered means the server has set the socket up completely: from here on,
        # every event it commits for the user is delivered on this socket.
        async with asyncio.timeout(client.timeout):
            await connection.ping()
        yield connection
    finally:
        await connection.close()


def _handshake_error(exc: InvalidStatus) -> APIError:
    response = exc.response
    code, message = f"http_{response.status_code}", response.reason_phrase
    with contextlib.suppress(ValueError, UnicodeDecodeError, AttributeError, TypeError):
        error = json.loads(response.body or b"")["error"]
        code, message = str(error["code"]), str(error["message"])
    return APIError(response.status_code, code, message)


def cursor_position(cursor: str) -> int:
    """The integer a GK-Chat cursor encodes (see the module docstring)."""
    return int(cursor)


class EventStream:
    """Every event for the user, in stream order and each once, across disconnects.

    Iterate it with ``async for`` (ideally inside ``async with``, which also closes the
    socket when you stop early)::

        async with client.events(since=cursor) as stream:
            async for event in stream:
                ...

    After every (re)connection it first reads ``/sync`` from the last cursor it yielded
    (following ``has_more``), then the live socket, and drops any stream event whose cursor
    is not greater than the last one yielded. Ephemeral frames (``typing``, ``presence``,
    ``error``: no cursor) are yielded too but never move the cursor. :attr:`cursor` is the
    cursor of the last stream event yielded (or the starting one): persist it to resume later
    with ``client.events(since=...)``.

    Connection failures, abnormal closes (1013 too slow, 1009, server restarts) and 5xx or
    429 answers lead to a reconnection with exponential backoff capped at ``max_backoff``
    seconds. A dead session (401) and any other 4xx are raised.
    """

    def __init__(
        self,
        client: "Client",
        since: str | None,
        *,
        max_backoff: float = MAX_BACKOFF,
        keepalive: float | None = KEEPALIVE_INTERVAL,
    ) -> None:
        if since is not None:
            cursor_position(since)  # fail early on a cursor that cannot be compared
        self.cursor = since
        self.max_backoff = max_backoff
        self.reconnections = 0
        self._client = client
        self._keepalive = keepalive
        self._generator: AsyncGenerator[Event, None] | None = None

    async def __aenter__(self) -> Self:
        if self.cursor is None:
            self.cursor = (await self._client.sync()).cursor
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._generator is None:
            self._generator = self._run()
        return await self._generator.__anext__()

    async def aclose(self) -> None:
        """Close the socket, if one is open, and end the iteration."""
        if self._generator is not None:
            await self._generator.aclose()

    def _fresh(self, event: Event) -> bool:
        """Move the cursor past ``event``; False if it has been yielded already."""
        return event.cursor is None or self._advance(event.cursor)

    def _advance(self, cursor: str) -> bool:
        """Move the cursor to ``cursor`` if that is further on; say whether it was."""
        if self.cursor is not None and cursor_position(cursor) <= cursor_position(self.cursor):
            return False
        self.cursor = cursor
        return True

    async def _run(self) -> AsyncGenerator[Event, None]:
        failures = 0
        while True:
            try:
                if self.cursor is None:
                    self.cursor = (await self._client.sync()).cursor
                async with self._client.connect(keepalive=self._keepalive) as connection:
                    failures = 0
                    while True:  # what happened while we were away
                        assert self.cursor is not None
                        page = await self._client.sync(since=self.cursor)
                        for event in page.events:
                            if self._fresh(event):
                                yield event
                        self._advance(page.cursor)
                        if not page.has_more:
                            break
                    async for event in connection:  # then live
                        if self._fresh(event):
                            yield event
            except APIError as exc:
                if exc.status is None or not (exc.status >= 500 or exc.status in (408, 429)):
                    raise
                delay = max(self._delay(failures), exc.retry_after or 0.0)
            except (
                RealtimeClosed,
                WebSocketException,
                httpx.TransportError,
                OSError,
                TimeoutError,
            ):
                delay = self._delay(failures)
            else:  # the server closed the socket normally (idle, going away)
                delay = self._delay(failures)
            failures += 1
            self.reconnections += 1
            await asyncio.sleep(delay)

    def _delay(self, failures: int) -> float:
        return min(self.max_backoff, FIRST_BACKOFF * 2.0**failures)
