"""One socket's tasks and timers: none while idle, the idle timeout, closes that cannot go."""

import asyncio
from typing import Any

import pytest

from gkchat.realtime import connection as connection_module
from gkchat.realtime.connection import CLOSE_IDLE
from tests.support.fake_socket import FakeSocket, open_connection


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def writer_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if "_drain" in repr(t.get_coro())]


async def test_frames_pushed_before_start_go_first_and_in_order() -> None:
    """What is queued before start (the ready frame) is sent first, then later pushes."""
    peer = FakeSocket()
    conn = open_connection(peer)
    conn.push_frame("ready")
    await settle()
    assert peer.sent == []

    conn.start(0)
    conn.push_frame("second")
    await settle()

    assert peer.sent == ["ready", "second"]


async def test_an_idle_connection_has_no_writer_task() -> None:
    """A socket that cannot be written to without waiting gets a writer task while frames
    wait, and none once they are sent."""
    peer = FakeSocket()  # not uvicorn's protocol: every send is awaited, by the writer task
    conn = open_connection(peer)
    conn.start(0)
    assert writer_tasks() == []

    conn.push_frame("one")
    await asyncio.sleep(0)  # the flush runs and hands the frame to a writer task
    assert len(writer_tasks()) == 1
    await settle()

    assert peer.sent == ["one"]
    assert writer_tasks() == []


async def test_a_long_queue_lets_other_tasks_run_between_its_sends() -> None:
    """A writer with hundreds of frames to send pauses every few dozen, so that one busy
    socket cannot hold the event loop until its queue is empty."""
    peer = FakeSocket()
    conn = open_connection(peer, queue_size=1000)
    conn.start(0)
    for n in range(300):
        conn.push_frame(str(n))
    seen_by_another_task = asyncio.create_task(asyncio.sleep(0, result=None))
    sent_when_it_ran: list[int] = []
    seen_by_another_task.add_done_callback(lambda _: sent_when_it_ran.append(len(peer.sent)))
    await settle()
    while writer_tasks():
        await asyncio.sleep(0)

    assert 0 < sent_when_it_ran[0] < 300
    assert peer.sent == [str(n) for n in range(300)]


async def test_silence_past_the_idle_timeout_closes_with_1001() -> None:
    """No frame from the peer for the idle timeout: the socket is closed with 1001."""
    peer = FakeSocket()
    conn = open_connection(peer)
    conn.watch_idle(0.05)
    await asyncio.sleep(0.15)

    assert conn.closed
    assert peer.closed_with == CLOSE_IDLE


async def test_each_frame_heard_restarts_the_idle_timeout() -> None:
    """A peer that keeps talking, each time within the timeout, is never closed for it."""
    conn = open_connection(FakeSocket())
    conn.watch_idle(0.08)
    for _ in range(6):
        await asyncio.sleep(0.03)
        conn.heard()

    assert not conn.closed
    await conn.stop()


async def test_a_close_that_cannot_reach_the_peer_ends_the_receive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the close frame cannot go (the peer reads nothing), a waiting receive returns
    a disconnect instead of waiting for a frame that will never come."""
    monkeypatch.setattr(connection_module, "_CLOSE_TIMEOUT_S", 0.05)
    conn = open_connection(FakeSocket(reads=False, close_blocks=True))
    receiving = asyncio.create_task(conn.receive())
    await settle()

    conn.close(1013, "too slow")
    # asyncio.wait, not wait_for: a timeout must not cancel the receive and so end it itself.
    done, _ = await asyncio.wait({receiving}, timeout=1)

    assert receiving in done, "the receive still waits for a frame"
    message = receiving.result()

    assert message == {"type": "websocket.disconnect", "code": 1013}
    assert not receiving.cancelled()


async def test_a_cancel_from_elsewhere_still_cancels_the_receive() -> None:
    """Only the connection's own interrupt becomes a disconnect; other cancels propagate."""
    conn = open_connection(FakeSocket())
    receiving = asyncio.create_task(conn.receive())
    await settle()

    receiving.cancel()

    with pytest.raises(asyncio.CancelledError):
        await receiving


async def test_events_already_sent_are_skipped_and_the_socket_stays_open() -> None:
    """A hint repeating events the socket has had (a resync racing a publish) sends nothing
    twice and does not end the connection."""
    peer = FakeSocket()
    conn = open_connection(peer)
    conn.start(0)
    conn.push_event(1, "one")
    conn.push_event(2, "two")
    await settle()

    conn.push_event(1, "one")
    conn.push_event(2, "two")
    await settle()
    conn.push_event(3, "three")
    await settle()

    assert peer.sent == ["one", "two", "three"]
    assert not conn.closed


class _ClosingProtocol:
    """What a flush sees of uvicorn's protocol once the peer has gone: writable, but
    disconnected, so a write raises."""

    def __init__(self) -> None:
        self.writable = asyncio.Event()
        self.writable.set()
        self.disconnected = True


async def test_a_flush_to_a_peer_that_went_away_stops_sending() -> None:
    """A flush whose write fails marks the connection closed and drops its queue, without
    starting a writer task."""
    peer = FakeSocket()
    conn = open_connection(peer)
    conn._protocol = _ClosingProtocol()  # type: ignore[assignment]
    conn.start(0)

    conn.push_frame("one")
    conn.push_frame("two")
    await settle()

    assert conn.closed
    assert writer_tasks() == []
    assert peer.sent == []
