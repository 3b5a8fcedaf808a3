"""Several text frames in one socket write.

Starlette sends one frame per ASGI message, and uvicorn writes each one to the socket at once:
a system call, plus the ASGI message and its checks, per frame. A message costs four frames
(the sender's ack and ``message.created``, the recipient's ``message.created`` and
notification), which arrive in a connection's queue together. ``coalesced_writer`` encodes
them all with uvicorn's own WebSocket protocol object and hands them to the transport in one
write. It waits for the transport to take data exactly as uvicorn's own send does.
"""

from collections.abc import Awaitable, Callable, Sequence

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

TextWriter = Callable[[Sequence[str]], Awaitable[None]]


def coalesced_writer(websocket: WebSocket) -> TextWriter | None:
    """A function that sends text frames in one write, or None when the socket is not served
    by uvicorn's sans-I/O WebSocket protocol (``gkchat.transport``): then frames go one
    ASGI message at a time."""
    protocol = getattr(getattr(websocket, "_send", None), "__self__", None)
    if not isinstance(protocol, WebSocketsSansIOProtocol):
        return None

    async def write(texts: Sequence[str]) -> None:
        # Flow control as uvicorn's own send: wait while the transport's buffer is over its
        # high-water mark, so a peer that stops reading fills its queue and is dropped.
        await protocol.writable.wait()
        if protocol.disconnected or protocol.close_sent or protocol.transport.is_closing():
            raise ConnectionError("the WebSocket is closing")
        conn = protocol.conn
        for text in texts:
            conn.send_text(text.encode())  # raises InvalidState once the socket is not open
        protocol.transport.write(b"".join(conn.data_to_send()))

    return write
