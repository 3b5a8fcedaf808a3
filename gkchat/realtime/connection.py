"""One WebSocket connection's outgoing side: a bounded queue, flushed by a callback or drained
by a writer task.

Everything for the socket goes through ``push_*``, which never blocks: a client too slow to
drain its queue (more than ``queue_size`` frames or ``queue_bytes`` of text waiting) is
disconnected (1013) instead of holding anyone else up. The writer sends
stream events in position order, skips ones already sent, and fills gaps (a lost hub message)
from the database before going on.

Pushes made together go out together: the first schedules a flush (``loop.call_soon``), which
runs after the other callbacks already due, such as the acknowledgements of the same batch of
sends, and writes everything queued in one socket write. The flush is a plain callback, not a
task, because that is the common case at load (a few frames, nothing to catch up, a transport
that takes data): at 5,000 messages per second about a hundred sockets are written to every
10 ms. Whatever cannot go at once (stored events to read first, a transport over its
high-water mark, a long queue) is handed to a writer task, which can wait.

An idle socket costs as little as it can: the writer task exists only while frames wait (it
starts when a flush cannot finish and ends when the queue is empty), and the idle timeout is
one timer re-armed once per timeout, not per frame. At 10,000 open sockets every object a
socket keeps alive is 10,000 objects that each full garbage collection walks while the event
loop waits.
"""

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Awaitable
from typing import Any, Protocol

from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketState

from gkchat.domain.models import StreamEvent
from gkchat.realtime.frames import event_frame
from gkchat.realtime.socket_writes import (
    sansio_protocol,
    write_frames,
    write_frames_when_writable,
)

log = logging.getLogger("gkchat.ws")


class CatchUp(Protocol):
    """Reads a user's stored events at positions ``after + 1`` to ``upto``."""

    def __call__(self, user_id: str, *, after: int, upto: int) -> Awaitable[list[StreamEvent]]: ...


CLOSE_IDLE = 1001
CLOSE_TOO_SLOW = 1013
_NO_POSITION = 0
_LATEST = 2**62  # a catch-up to this position reads everything stored
_CATCH_UP_PAGE = 500
_CLOSE_TIMEOUT_S = 2.0  # for the close frame to leave; a peer that reads nothing is cut
_FRAMES_PER_TURN = 64  # frames one writer sends before it lets the loop serve others
_OPENED = itertools.count()


class Connection:
    __slots__ = (
        "_catch_up",
        "_closed",
        "_closer",
        "_flush_due",
        "_heard",
        "_idle_timeout",
        "_idle_timer",
        "_loop",
        "_max_queued",
        "_max_queued_bytes",
        "_protocol",
        "_queue",
        "_queued_bytes",
        "_reader",
        "_reader_interrupted",
        "_started",
        "_writer",
        "close_code",
        "last_seq",
        "opened",
        "session_id",
        "user_id",
        "websocket",
    )

    def __init__(
        self,
        websocket: WebSocket,
        *,
        user_id: str,
        session_id: str,
        catch_up: CatchUp,
        queue_size: int,
        queue_bytes: int,
    ) -> None:
        self.websocket = websocket
        self.user_id = user_id
        self.session_id = session_id
        self.last_seq = 0
        self.opened = next(_OPENED)  # orders a user's connections, oldest first
        self.close_code: int | None = None
        self._catch_up = catch_up
        self._loop = asyncio.get_running_loop()
        # (position, frame text); a text of None asks the writer to catch up to that position.
        self._queue: deque[tuple[int, str | None]] = deque()
        self._queued_bytes = 0
        self._max_queued = queue_size
        self._max_queued_bytes = queue_bytes
        self._started = False
        self._closed = False
        self._writer: asyncio.Task[None] | None = None
        self._flush_due = False
        self._protocol = sansio_protocol(websocket)
        self._closer: asyncio.Task[None] | None = None
        self._heard = 0.0
        self._idle_timeout = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._reader: asyncio.Task[Any] | None = None
        self._reader_interrupted = False

    @property
    def closed(self) -> bool:
        """True once the socket is closing or gone: nothing more is queued or sent."""
        return self._closed

    @property
    def started(self) -> bool:
        """True once the socket has had its ``ready`` frame and sends events."""
        return self._started

    def start(self, last_seq: int, *, catch_up_to: int | None = None) -> None:
        """Begin sending after position ``last_seq``; first send what was stored up to
        ``catch_up_to`` (a client resuming from a cursor)."""
        self.last_seq = last_seq
        if catch_up_to is not None and catch_up_to > last_seq:
            self._queue.append((catch_up_to, None))
        self._started = True
        self._wake_writer()

    def push_event(self, seq: int, text: str) -> None:
        self._push(seq, text)

    def push_frame(self, text: str) -> None:
        self._push(_NO_POSITION, text)

    def resync(self) -> None:
        """Send every stored event after the last one sent (hints may have been lost)."""
        self._push(_LATEST, None)

    async def receive(self) -> Message:
        """The client's next message; a disconnect once this side closed the socket.

        The close frame a ``close`` sends makes the server queue a disconnect for this
        receive. When the frame cannot go (the peer stopped reading and the transport is full),
        the receive is interrupted instead, so that the endpoint returns and uvicorn drops
        the connection.
        """
        self._reader = asyncio.current_task()
        try:
            return await self.websocket.receive()
        except asyncio.CancelledError:
            if self._reader_interrupted and self._reader is not None:
                self._reader_interrupted = False
                if self._reader.uncancel() == 0:
                    return {"type": "websocket.disconnect", "code": self.close_code}
            raise
        finally:
            self._reader = None

    def watch_idle(self, timeout: float) -> None:
        """Close with 1001 once the peer has sent nothing for ``timeout`` seconds."""
        self._idle_timeout = timeout
        self.heard()
        self._idle_timer = self._loop.call_at(self._heard + timeout, self._check_idle)

    def heard(self) -> None:
        """The peer sent a frame: the idle timeout starts again."""
        self._heard = self._loop.time()

    def close(self, code: int, reason: str = "") -> None:
        """Close from any task: the peer gets ``code`` and the receive loop a disconnect."""
        if self._closed:
            return
        self.close_code = code
        self._closed = True
        self._stop_sending()
        self._closer = self._loop.create_task(self._close_socket(code, reason))

    async def stop(self) -> None:
        """Stop sending (the socket is gone or going)."""
        self._closed = True
        self._stop_sending()
        if self._closer is not None:
            # Let a close we started reach the peer before the endpoint returns.
            await self._closer

    def _push(self, seq: int, text: str | None) -> None:
        if self._closed:
            return
        size = len(text) if text is not None else 0
        if (
            len(self._queue) >= self._max_queued
            or self._queued_bytes + size > self._max_queued_bytes
        ):
            log.info("closing a slow connection of user %s (queue full)", self.user_id)
            self.close(CLOSE_TOO_SLOW, "too slow to receive")
            return
        self._queue.append((seq, text))
        self._queued_bytes += size
        self._wake_writer()

    def _wake_writer(self) -> None:
        if self._writer is None and self._started and self._queue and not self._flush_due:
            self._flush_due = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Send what is queued if it can go at once; otherwise start the writer task."""
        self._flush_due = False
        if self._writer is not None or self._closed or not self._queue:
            return
        if self._protocol is not None and self._head_goes_now():
            try:
                texts = self._ready_texts()
                if texts:
                    write_frames(self._protocol, texts)
            except Exception:
                self._peer_gone()
                return
            if not self._queue:
                return
        self._writer = self._loop.create_task(self._drain())

    def _head_goes_now(self) -> bool:
        """Whether a flush can send without waiting: a short queue whose head needs no stored
        events first, and a transport under its high-water mark."""
        assert self._protocol is not None
        if len(self._queue) > _FRAMES_PER_TURN or not self._protocol.writable.is_set():
            return False
        seq, text = self._queue[0]
        return text is not None and (seq == _NO_POSITION or seq <= self.last_seq + 1)

    def _peer_gone(self) -> None:
        """A send failed: the peer went away. Stop sending; the receive loop will see the
        disconnect."""
        self._closed = True
        self._queue.clear()

    def _stop_sending(self) -> None:
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        self._queue.clear()
        self._queued_bytes = 0

    def _check_idle(self) -> None:
        due = self._heard + self._idle_timeout
        if self._loop.time() >= due:
            self._idle_timer = None
            self.close(CLOSE_IDLE, "idle")
        else:
            self._idle_timer = self._loop.call_at(due, self._check_idle)

    async def _close_socket(self, code: int, reason: str) -> None:
        if self.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.websocket.close(code, reason), _CLOSE_TIMEOUT_S)
                return
        if self._reader is not None:
            self._reader_interrupted = True
            self._reader.cancel()

    async def _drain(self) -> None:
        """Send what is queued, then end (the next push starts a new writer)."""
        try:
            while self._queue:
                texts = self._ready_texts()
                if texts:
                    await self._send_texts(texts)
                    if len(texts) == _FRAMES_PER_TURN:
                        # A send never waits while the transport takes data: without a pause,
                        # a long queue would hold the event loop until it is empty.
                        await asyncio.sleep(0)
                elif self._queue:  # the head of the queue needs stored events first
                    seq, text = self._queue.popleft()
                    self._queued_bytes -= len(text) if text is not None else 0
                    await self._send_after_gap(seq, text)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._peer_gone()
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    def _ready_texts(self) -> list[str]:
        """Take the frames at the head of the queue that need no catch-up (at most
        ``_FRAMES_PER_TURN``), dropping events already sent."""
        texts: list[str] = []
        queue = self._queue
        while queue and len(texts) < _FRAMES_PER_TURN:
            seq, text = queue[0]
            if text is None or (seq != _NO_POSITION and seq > self.last_seq + 1):
                break
            queue.popleft()
            self._queued_bytes -= len(text)
            if seq == _NO_POSITION:
                texts.append(text)
            elif seq > self.last_seq:
                texts.append(text)
                self.last_seq = seq
        return texts

    async def _send_texts(self, texts: list[str]) -> None:
        if self._protocol is not None and len(texts) > 1:
            await write_frames_when_writable(self._protocol, texts)
            return
        for text in texts:
            await self.websocket.send_text(text)

    async def _send_after_gap(self, seq: int, text: str | None) -> None:
        """A catch-up request (no text) or an event ahead of the next position: send the
        stored events missed in between, then the event itself."""
        if text is None:
            await self._fill_gap(seq)
            return
        await self._fill_gap(seq - 1)
        await self.websocket.send_text(text)
        self.last_seq = seq

    async def _fill_gap(self, upto: int) -> None:
        """Send the stored events after ``last_seq`` through ``upto``, a page at a time."""
        while self.last_seq < upto:
            page_end = min(upto, self.last_seq + _CATCH_UP_PAGE)
            events = await self._catch_up(self.user_id, after=self.last_seq, upto=page_end)
            if not events:
                return
            for event in events:
                await self.websocket.send_text(event_frame(event))
                self.last_seq = event.seq
            await asyncio.sleep(0)  # a page of frames at a time, as in _drain
