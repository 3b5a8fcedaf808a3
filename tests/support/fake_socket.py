"""A stand-in for a client's socket under one ``Connection``, for unit tests below the server."""

import asyncio
from typing import cast

from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketState

from gkchat.domain.models import StreamEvent
from gkchat.realtime.connection import Connection


class FakeSocket:
    """Records what is sent. ``reads=False``: a client that never reads, so every send blocks
    forever; ``close_blocks``: the close frame cannot go either (the transport is full)."""

    application_state = WebSocketState.CONNECTED

    def __init__(self, *, reads: bool = True, close_blocks: bool = False) -> None:
        self.reads = reads
        self.close_blocks = close_blocks
        self.sent: list[str] = []
        self.closed_with: int | None = None

    async def send_text(self, text: str) -> None:
        if not self.reads:
            await asyncio.Event().wait()
        self.sent.append(text)

    async def close(self, code: int, _reason: str = "") -> None:
        if self.close_blocks:
            await asyncio.Event().wait()
        self.closed_with = code

    async def receive(self) -> Message:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def no_catch_up(user_id: str, *, after: int, upto: int) -> list[StreamEvent]:
    return []


def open_connection(
    socket: FakeSocket, *, queue_size: int = 64, queue_bytes: int = 64 * 1024
) -> Connection:
    return Connection(
        cast(WebSocket, socket),
        user_id="u",
        session_id="s",
        catch_up=no_catch_up,
        queue_size=queue_size,
        queue_bytes=queue_bytes,
    )
