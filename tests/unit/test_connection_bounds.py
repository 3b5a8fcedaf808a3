"""One socket's outgoing queue is bounded in frames and in bytes, whatever its peer does.

The peer here never reads: every send blocks forever, as on a client that stopped reading
once the kernel buffers are full. (The same through a real server and TCP socket:
tests/ws/test_ws_delivery.py, the slow reader tests.)
"""

from gkchat.realtime.connection import CLOSE_TOO_SLOW, Connection
from tests.support.fake_socket import FakeSocket, open_connection


def connection(peer: FakeSocket, *, queue_size: int, queue_bytes: int) -> Connection:
    conn = open_connection(peer, queue_size=queue_size, queue_bytes=queue_bytes)
    conn.start(0)
    return conn


async def test_frames_beyond_the_byte_bound_close_the_socket_with_1013() -> None:
    """Pushing more than queue_bytes of frames to a stalled peer closes it with 1013."""
    peer = FakeSocket(reads=False)
    conn = connection(peer, queue_size=10_000, queue_bytes=64 * 1024)
    frame = "x" * 1000
    pushed = 0
    while not conn.closed:
        conn.push_frame(frame)
        pushed += 1
        assert pushed <= 70, "64 KiB of 1,000-byte frames never closed the socket"
    await conn.stop()

    assert conn.close_code == CLOSE_TOO_SLOW
    assert peer.closed_with == CLOSE_TOO_SLOW


async def test_frames_beyond_the_count_bound_close_the_socket_with_1013() -> None:
    """Pushing more than queue_size frames to a stalled peer closes it with 1013."""
    peer = FakeSocket(reads=False)
    conn = connection(peer, queue_size=16, queue_bytes=4 * 1024 * 1024)
    for i in range(40):
        conn.push_event(i + 1, "{}")
    await conn.stop()

    assert conn.close_code == CLOSE_TOO_SLOW


async def test_a_closed_connection_queues_nothing_more() -> None:
    """After the close, pushes are dropped: the queue never grows past its bound."""
    peer = FakeSocket(reads=False)
    conn = connection(peer, queue_size=16, queue_bytes=64 * 1024)
    for _ in range(10_000):
        conn.push_frame("y" * 100)

    assert len(conn._queue) <= 16
    assert conn._queued_bytes <= 64 * 1024
    await conn.stop()
