"""Several text frames in one socket write.

Starlette sends one frame per ASGI message, and uvicorn writes each one to the socket at once:
a system call, plus the ASGI message and its checks, per frame. A message costs four frames
(the sender's ack and ``message.created``, the recipient's ``message.created`` and
notification), which arrive in a connection's queue together. These functions encode them all
with uvicorn's own WebSocket protocol object and hand them to the transport in one write.
``write_frames_when_writable`` waits for the transport to take data exactly as uvicorn's own
send does; ``write_frames`` is for a caller that cannot wait (``Connection``'s flush, a plain
callback) and has checked ``protocol.writable`` itself.
"""

from collections.abc import Sequence

from starlette.websockets import WebSocket
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


def sansio_protocol(websocket: WebSocket) -> WebSocketsSansIOProtocol | None:
    """uvicorn's protocol object under ``websocket``, or None when the socket is not served by
    uvicorn's sans-I/O WebSocket protocol (``gkchat.transport``): then frames go one ASGI
    message at a time."""
    protocol = getattr(getattr(websocket, "_send", None), "__self__", None)
    return protocol if isinstance(protocol, WebSocketsSansIOProtocol) else None


async def write_frames_when_writable(
    protocol: WebSocketsSansIOProtocol, texts: Sequence[str]
) -> None:
    """Send ``texts`` in one write once the transport takes data. Flow control as uvicorn's
    own send: wait while the transport's buffer is over its high-water mark, so a peer that
    stops reading fills its queue and is dropped."""
    await protocol.writable.wait()
    write_frames(protocol, texts)


def write_frames(protocol: WebSocketsSansIOProtocol, texts: Sequence[str]) -> None:
    """Send ``texts`` in one write, without waiting: the caller has checked that the transport
    is under its high-water mark. Raises once the socket is closing."""
    if protocol.disconnected or protocol.close_sent or protocol.transport.is_closing():
        raise ConnectionError("the WebSocket is closing")
    conn = protocol.conn
    for text in texts:
        conn.send_text(text.encode())  # raises InvalidState once the socket is not open
    protocol.transport.write(b"".join(conn.data_to_send()))
