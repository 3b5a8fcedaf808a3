"""One WebSocket connection's outgoing side: a bounded queue and its own writer task.

Everything for the socket goes through ``push_*``, which never blocks: a client too slow to
drain its queue (more than ``queue_size`` frames or ``queue_bytes`` of text waiting) is
disconnected (1013) instead of holding anyone else up. The writer sends
stream events in position order, skips ones already sent, and fills gaps (a lost hub message)
from the database before going on.
"""

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket, WebSocketState

from gkchat.domain.models import StreamEvent
from gkchat.realtime.frames import event_frame

log = logging.getLogger("gkchat.ws")

CatchUp = Callable[[str, int, int], Awaitable[list[StreamEvent]]]

CLOSE_TOO_SLOW = 1013
_NO_POSITION = 0
_LATEST = 2**62  # a catch-up to this position reads everything stored
_CATCH_UP_PAGE = 500
_OPENED = itertools.count()


class Connection:
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
        self._catch_up = catch_up
        # (position, frame text); a text of None asks the writer to catch up to that position.
        self._queue: asyncio.Queue[tuple[int, str | None]] = asyncio.Queue(maxsize=queue_size)
        self._queued_bytes = 0
        self._max_queued_bytes = queue_bytes
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None

    def start(self, last_seq: int, *, catch_up_to: int | None = None) -> None:
        """Begin sending after position ``last_seq``; first send what was stored up to
        ``catch_up_to`` (a client resuming from a cursor)."""
        self.last_seq = last_seq
        if catch_up_to is not None and catch_up_to > last_seq:
            self._queue.put_nowait((catch_up_to, None))
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.user_id}")

    @property
    def started(self) -> bool:
        """True once the socket has had its ``ready`` frame and sends events."""
        return self._writer is not None

    def push_event(self, seq: int, text: str) -> None:
        self._push((seq, text))

    def push_frame(self, text: str) -> None:
        self._push((_NO_POSITION, text))

    def resync(self) -> None:
        """Send every stored event after the last one sent (hints may have been lost)."""
        self._push((_LATEST, None))

    def _push(self, item: tuple[int, str | None]) -> None:
        if self.closed.is_set():
            return
        size = len(item[1]) if item[1] is not None else 0
        try:
            if self._queued_bytes + size > self._max_queued_bytes:
                raise asyncio.QueueFull
            self._queue.put_nowait(item)
            self._queued_bytes += size
        except asyncio.QueueFull:
            log.info("closing a slow connection of user %s (queue full)", self.user_id)
            self.close(CLOSE_TOO_SLOW, "too slow to receive")

    def close(self, code: int, reason: str = "") -> None:
        """Close from any task; the receive loop sees ``closed`` and stops."""
        if self.closed.is_set():
            return
        self.close_code = code
        self.closed.set()
        if self._writer is not None:
            self._writer.cancel()
        self._closer = asyncio.get_running_loop().create_task(self._close_socket(code, reason))

    async def _close_socket(self, code: int, reason: str) -> None:
        if self.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.websocket.close(code, reason), timeout=2)

    async def stop(self) -> None:
        """Stop the writer (the socket is gone or going)."""
        self.closed.set()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer
        if self._closer is not None:
            # Let a close we started reach the peer before the endpoint returns.
            await self._closer

    async def _write_loop(self) -> None:
        try:
            while True:
                seq, text = await self._queue.get()
                self._queued_bytes -= len(text) if text is not None else 0
                if seq == _NO_POSITION:
                    assert text is not None
                    await self.websocket.send_text(text)
                    continue
                if text is None:
                    await self._fill_gap(seq)
                    continue
                if seq <= self.last_seq:
                    continue
                if seq > self.last_seq + 1:
                    await self._fill_gap(seq - 1)
                await self.websocket.send_text(text)
                self.last_seq = seq
        except asyncio.CancelledError:
            raise
        except Exception:
            # The peer went away mid-send; the receive loop will see the disconnect.
            self.closed.set()

    async def _fill_gap(self, upto: int) -> None:
        """Send the stored events after ``last_seq`` through ``upto``, a page at a time."""
        while self.last_seq < upto:
            page_end = min(upto, self.last_seq + _CATCH_UP_PAGE)
            events = await self._catch_up(self.user_id, self.last_seq, page_end)
            if not events:
                return
            for event in events:
                await self.websocket.send_text(event_frame(event))
                self.last_seq = event.seq
