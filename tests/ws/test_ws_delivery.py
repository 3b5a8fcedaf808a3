"""Live delivery over the WebSocket: sends, acks, every device, cursors, the other events.

The contract's "Real time" and "Messages": a ``message.send`` is acked once stored, every
connected session of both sides gets ``message.created``, stream events carry the ``/sync``
cursor just after them, and REST actions are pushed live as well.
"""

import asyncio
import random
import string
from typing import Any

from tests.conftest import ServerStarter
from tests.support.factories import SignedInUser, UserFactory, befriend, send_friend_request
from tests.support.messaging import fresh_cursor
from tests.support.server import RunningServer
from tests.support.ws import (
    CLOSE_ABNORMAL,
    CLOSE_TRY_AGAIN_LATER,
    Frame,
    WsClient,
    befriended,
    open_ws,
    send_rest,
    sync_all,
)


def message_of(frame: Frame) -> dict[str, Any]:
    message: dict[str, Any] = frame["data"]["message"]
    return message


def created_ids(frames: list[Frame]) -> list[str]:
    return [message_of(f)["id"] for f in frames if f["type"] == "message.created"]


async def collect_created(ws: WsClient, count: int, timeout: float = 20) -> list[Frame]:
    """The next ``count`` message.created frames."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    frames = []
    for _ in range(count):
        frames.append(await ws.recv_until("message.created", max(deadline - loop.time(), 0.0)))
    return frames


async def test_ws_send_is_acked_with_the_stored_message(
    server: RunningServer, users: UserFactory
) -> None:
    """message.send gets a message.ack with the client_id and the stored message."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as ws:
        await ws.send_message(bob.id, "hello over the socket", "c-1")
        ack = await ws.recv_until("message.ack")

    assert ack["data"]["client_id"] == "c-1"
    message = ack["data"]["message"]
    assert message["sender_id"] == alice.id
    assert message["recipient_id"] == bob.id
    assert message["content"] == "hello over the socket"
    assert message["client_id"] == "c-1"
    history = await alice.get(f"/conversations/{bob.id}/messages")
    assert [m["id"] for m in history.json()["messages"]] == [message["id"]]


async def test_sending_socket_also_gets_message_created(
    server: RunningServer, users: UserFactory
) -> None:
    """The socket that sent a message gets message.created for it as well as the ack."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as ws:
        await ws.send_message(bob.id, "mine too", "c-1")
        frames: list[Frame] = []
        ack = await ws.recv_until("message.ack", skipped=frames)
        frames.extend(await ws.ping())

    created = [f for f in frames if f["type"] == "message.created"]
    assert [message_of(f) for f in created] == [ack["data"]["message"]]
    assert isinstance(created[0].get("cursor"), str)


async def test_recipient_gets_message_created_with_a_cursor(
    server: RunningServer, users: UserFactory
) -> None:
    """The recipient's socket gets message.created, carrying a cursor, for a WS send."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        await a_ws.send_message(bob.id, "hi bob", "c-1")
        ack = await a_ws.recv_until("message.ack")
        created = await b_ws.recv_until("message.created")

    assert message_of(created) == ack["data"]["message"]
    assert isinstance(created.get("cursor"), str)
    assert created["cursor"]


async def test_rest_send_is_delivered_live(server: RunningServer, users: UserFactory) -> None:
    """A message sent with POST /messages reaches the recipient's socket."""
    alice, bob = await befriended(users)

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        sent = await send_rest(alice, bob.id, "over REST")
        created = await b_ws.recv_until("message.created")

    assert message_of(created) == sent


async def test_every_device_of_the_recipient_gets_the_message(
    server: RunningServer, users: UserFactory
) -> None:
    """Both connected sessions of the recipient get message.created."""
    alice, bob = await befriended(users)
    bob_phone = await users.login(bob.username)

    async with open_ws(server, bob.token) as laptop, open_ws(server, bob_phone) as phone:
        await laptop.ping()
        await phone.ping()
        sent = await send_rest(alice, bob.id, "to every device")
        on_laptop = await laptop.recv_until("message.created")
        on_phone = await phone.recv_until("message.created")

    assert message_of(on_laptop) == sent
    assert message_of(on_phone) == sent


async def test_senders_other_devices_get_their_own_message(
    server: RunningServer, users: UserFactory
) -> None:
    """The sender's other connected session gets message.created for a send it did not make."""
    alice, bob = await befriended(users)
    alice_phone = await users.login(alice.username)

    async with open_ws(server, alice.token) as laptop, open_ws(server, alice_phone) as phone:
        await phone.ping()
        await laptop.send_message(bob.id, "sent from the laptop", "c-1")
        ack = await laptop.recv_until("message.ack")
        on_phone = await phone.recv_until("message.created")

    assert message_of(on_phone) == ack["data"]["message"]


async def test_sync_since_an_event_cursor_returns_only_later_events(
    server: RunningServer, users: UserFactory
) -> None:
    """/sync?since=<cursor of a pushed event> returns exactly the events after it."""
    alice, bob = await befriended(users)

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        sent = [await send_rest(alice, bob.id, f"message {i}") for i in range(3)]
        pushed = await collect_created(b_ws, 3)

    assert [message_of(f)["id"] for f in pushed] == [m["id"] for m in sent]
    events, cursor = await sync_all(bob, pushed[0]["cursor"])
    messages = [e for e in events if e["type"].startswith("message.")]
    assert [(e["type"], e["data"]["message"]["id"]) for e in messages] == [
        ("message.created", m["id"]) for m in sent[1:]
    ]
    assert [e["cursor"] for e in messages] == [f["cursor"] for f in pushed[1:]]
    assert cursor == events[-1]["cursor"]


async def test_sync_since_the_last_pushed_cursor_is_empty(
    server: RunningServer, users: UserFactory
) -> None:
    """After the last pushed event's cursor, /sync has nothing more."""
    alice, bob = await befriended(users)

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        await send_rest(alice, bob.id, "only one")
        await b_ws.recv_until("message.created")
        # The message's notification is the last event of that transaction.
        pushed = await b_ws.recv_until("notification.created")

    events, cursor = await sync_all(bob, pushed["cursor"])
    assert events == []
    assert cursor == pushed["cursor"]


async def test_edit_is_pushed_as_message_updated(server: RunningServer, users: UserFactory) -> None:
    """The recipient's socket gets message.updated with the new content after an edit."""
    alice, bob = await befriended(users)
    sent = await send_rest(alice, bob.id, "frist")

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        response = await alice.client.patch(f"/messages/{sent['id']}", json={"content": "first"})
        assert response.status_code == 200, response.text
        updated = await b_ws.recv_until("message.updated")

    assert message_of(updated)["id"] == sent["id"]
    assert message_of(updated)["content"] == "first"
    assert message_of(updated)["edited_at"] is not None
    assert isinstance(updated.get("cursor"), str)


async def test_delete_is_pushed_as_a_tombstone(server: RunningServer, users: UserFactory) -> None:
    """The recipient's socket gets message.deleted with an empty, deleted tombstone."""
    alice, bob = await befriended(users)
    sent = await send_rest(alice, bob.id, "oops")

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        response = await alice.client.delete(f"/messages/{sent['id']}")
        assert response.status_code == 204, response.text
        deleted = await b_ws.recv_until("message.deleted")

    assert message_of(deleted)["id"] == sent["id"]
    assert message_of(deleted)["content"] == ""
    assert message_of(deleted)["deleted_at"] is not None
    assert isinstance(deleted.get("cursor"), str)


async def test_read_receipt_is_pushed_to_the_sender(
    server: RunningServer, users: UserFactory
) -> None:
    """Marking a conversation read sends receipt.read {peer_id, up_to} to the peer's socket."""
    alice, bob = await befriended(users)
    sent = await send_rest(alice, bob.id, "did you read this?")

    async with open_ws(server, alice.token) as a_ws:
        await a_ws.ping()
        response = await bob.client.post(
            f"/conversations/{alice.id}/read", json={"up_to": sent["id"]}
        )
        assert response.status_code == 204, response.text
        receipt = await a_ws.recv_until("receipt.read")

    assert receipt["data"] == {"peer_id": bob.id, "up_to": sent["id"], "seq": sent["seq"]}
    assert isinstance(receipt.get("cursor"), str)


async def test_friend_request_is_pushed_to_the_recipient(
    server: RunningServer, users: UserFactory
) -> None:
    """A new friend request reaches the recipient's socket as friend_request.created."""
    alice, bob = await users.register(), await users.register()

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        request = await send_friend_request(alice, bob)
        pushed = await b_ws.recv_until("friend_request.created")

    assert pushed["data"]["request"]["id"] == request["id"]
    assert pushed["data"]["request"]["from_user"]["id"] == alice.id
    assert isinstance(pushed.get("cursor"), str)


async def test_accepted_friend_request_is_pushed_to_the_sender(
    server: RunningServer, users: UserFactory
) -> None:
    """Accepting a request reaches the asker's socket as friend_request.accepted."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    async with open_ws(server, alice.token) as a_ws:
        await a_ws.ping()
        response = await bob.client.post(f"/friend-requests/{request['id']}/accept")
        assert response.status_code == 200, response.text
        pushed = await a_ws.recv_until("friend_request.accepted")

    assert pushed["data"]["request_id"] == request["id"]
    assert pushed["data"]["friendship"]["user"]["id"] == bob.id
    assert isinstance(pushed.get("cursor"), str)


async def test_ws_send_to_a_non_friend_is_an_error_frame(
    server: RunningServer, users: UserFactory
) -> None:
    """message.send to someone who is not a friend gets error {client_id, code: not_friends}."""
    alice, stranger = await users.register(), await users.register()

    async with open_ws(server, alice.token) as ws:
        await ws.send_message(stranger.id, "hello?", "c-1")
        error = await ws.recv_until("error")

    assert error["data"]["client_id"] == "c-1"
    assert error["data"]["code"] == "not_friends"
    assert isinstance(error["data"]["message"], str)
    history = await alice.get(f"/conversations/{stranger.id}/messages")
    assert history.json()["messages"] == []


async def test_ws_send_to_a_non_friend_reaches_nobody(
    server: RunningServer, users: UserFactory
) -> None:
    """A refused message.send is not pushed to the would-be recipient."""
    alice, stranger = await users.register(), await users.register()

    async with open_ws(server, alice.token) as a_ws, open_ws(server, stranger.token) as s_ws:
        await s_ws.ping()
        await a_ws.send_message(stranger.id, "hello?", "c-1")
        await a_ws.recv_until("error")
        seen = await s_ws.ping()

    assert created_ids(seen) == []


async def test_ws_retry_with_the_same_client_id_acks_the_same_message(
    server: RunningServer, users: UserFactory
) -> None:
    """Resending a client_id after its ack gets an ack for the same message."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as ws:
        await ws.send_message(bob.id, "once", "c-1")
        first = await ws.recv_until("message.ack")
        await ws.send_message(bob.id, "once", "c-1")
        second = await ws.recv_until("message.ack")

    assert second["data"]["client_id"] == "c-1"
    assert second["data"]["message"]["id"] == first["data"]["message"]["id"]


async def test_ws_retry_with_the_same_client_id_is_not_delivered_again(
    server: RunningServer, users: UserFactory
) -> None:
    """A retried client_id produces no second message.created on either side."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        await a_ws.send_message(bob.id, "once", "c-1")
        first: list[Frame] = []
        await a_ws.recv_until("message.ack", skipped=first)
        await a_ws.send_message(bob.id, "once", "c-1")
        second: list[Frame] = []
        await a_ws.recv_until("message.ack", skipped=second)
        at_alice = first + second + await a_ws.ping()
        at_bob = await b_ws.ping()

    assert len(created_ids(at_alice)) == 1, at_alice
    assert len(created_ids(at_bob)) == 1, at_bob


async def test_concurrent_duplicate_client_ids_make_one_message(
    server: RunningServer, users: UserFactory
) -> None:
    """Two pipelined sends with one client_id are both acked with one message, created once."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        await a_ws.send_message(bob.id, "twice at once", "c-1")
        await a_ws.send_message(bob.id, "twice at once", "c-1")
        frames: list[Frame] = []
        acks = [await a_ws.recv_until("message.ack", skipped=frames) for _ in range(2)]
        at_bob = await b_ws.ping()

    assert acks[0]["data"]["message"]["id"] == acks[1]["data"]["message"]["id"]
    assert created_ids(at_bob) == [acks[0]["data"]["message"]["id"]]
    history = await bob.get(f"/conversations/{alice.id}/messages")
    assert len(history.json()["messages"]) == 1


async def test_pipelined_sends_arrive_in_order(server: RunningServer, users: UserFactory) -> None:
    """100 message.send frames sent without waiting arrive at the recipient in the same order."""
    alice, bob = await befriended(users)
    contents = [f"message {i:03}" for i in range(100)]

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        for i, content in enumerate(contents):
            await a_ws.send_message(bob.id, content, f"c-{i}")
        received = await collect_created(b_ws, len(contents), timeout=60)

    assert [message_of(f)["content"] for f in received] == contents


async def test_pipelined_sends_are_stored_in_order(
    server: RunningServer, users: UserFactory
) -> None:
    """History after 100 pipelined sends holds them in send order, each acked once."""
    alice, bob = await befriended(users)
    contents = [f"message {i:03}" for i in range(100)]

    async with open_ws(server, alice.token) as a_ws:
        for i, content in enumerate(contents):
            await a_ws.send_message(bob.id, content, f"c-{i}")
        acks = [await a_ws.recv_until("message.ack", timeout=60) for _ in contents]

    assert [a["data"]["client_id"] for a in acks] == [f"c-{i}" for i in range(100)]
    response = await bob.get(f"/conversations/{alice.id}/messages", params={"limit": 200})
    history = response.json()["messages"]
    assert [m["content"] for m in reversed(history)] == contents
    assert [m["id"] for m in reversed(history)] == [a["data"]["message"]["id"] for a in acks]


async def test_events_pushed_while_connected_match_sync(
    server: RunningServer, users: UserFactory
) -> None:
    """The events a socket gets, in order, are exactly what /sync returns for the same span."""
    alice, bob = await befriended(users)
    start = await fresh_cursor(bob)

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        sent = await send_rest(alice, bob.id, "one")
        await bob.client.post(f"/conversations/{alice.id}/read", json={"up_to": sent["id"]})
        await send_rest(bob, alice.id, "two")
        await alice.client.patch(f"/messages/{sent['id']}", json={"content": "one!"})
        pushed: list[Frame] = []
        last = await b_ws.recv_until("message.updated", skipped=pushed)
        pushed.append(last)

    events, _ = await sync_all(bob, start)
    assert [(e["type"], e["cursor"]) for e in events] == [(f["type"], f["cursor"]) for f in pushed]
    assert [e["data"] for e in events] == [f["data"] for f in pushed]


SLOW_BATCH = 50
SLOW_MAX_MESSAGES = 6000
# Sends in flight at once: a group commit then pushes at most this many events to a socket at
# a time, well under ws_queue_size=16, so only a socket that stops reading can fill its queue.
IN_FLIGHT = 6
PROMPT = 3.0


def filler(i: int) -> str:
    """4,000 characters that do not compress to nothing."""
    return f"{i:06}:" + "".join(random.choices(string.ascii_letters + string.digits, k=3993))


async def send_paced(sender: SignedInUser, recipient_id: str, contents: list[str]) -> list[str]:
    """Send over REST with at most IN_FLIGHT requests at once; return the message ids."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(content: str) -> str:
        async with gate:
            message = await send_rest(sender, recipient_id, content)
            message_id: str = message["id"]
            return message_id

    return list(await asyncio.gather(*(one(c) for c in contents)))


async def test_slow_reader_is_dropped_and_others_are_not_held_up(
    start_server: ServerStarter,
) -> None:
    """A socket that stops reading is disconnected once its queue fills; a third user's socket
    keeps getting messages promptly; after reconnecting, socket + /sync hold every message
    exactly once."""
    server = await start_server(ws_queue_size=16)
    registry = server.app.state.services.gateway.registry
    async with UserFactory(server.api_url) as users:
        alice, bob = await befriended(users)
        carol = await users.register()
        await befriend(alice, carol)
        start = await fresh_cursor(bob)
        to_bob: list[str] = []

        async with (
            open_ws(server, bob.token, max_queue=1, compression=False, receive_buffer=4096) as b_ws,
            open_ws(server, carol.token) as c_ws,
        ):
            await b_ws.ping()
            await c_ws.ping()
            # From here on Bob reads nothing until the server has dropped him.
            while registry.is_connected(bob.id):
                assert len(to_bob) < SLOW_MAX_MESSAGES, "the slow reader was never disconnected"
                batch = [filler(len(to_bob) + i) for i in range(SLOW_BATCH)]
                to_bob.extend(await send_paced(alice, bob.id, batch))
                note = await send_rest(alice, carol.id, f"note after {len(to_bob)}")
                await c_ws.recv_matching("message.created", "id", note["id"], timeout=PROMPT)

            drained = await b_ws.expect_closed({CLOSE_TRY_AGAIN_LATER, CLOSE_ABNORMAL}, 30)

        live = [f for f in drained if f["type"] == "message.created"]
        last_cursor = live[-1]["cursor"] if live else start
        async with open_ws(server, bob.token) as again:
            await again.ping()
            events, _ = await sync_all(bob, last_cursor)

    received = created_ids(live) + created_ids(events)
    assert len(received) == len(set(received)), "a message arrived twice"
    assert sorted(received) == sorted(to_bob)


async def test_reader_that_keeps_up_is_not_dropped(start_server: ServerStarter) -> None:
    """With ws_queue_size=16, a socket that reads as fast as messages come is never closed."""
    server = await start_server(ws_queue_size=16)
    async with UserFactory(server.api_url) as users:
        alice, bob = await befriended(users)
        async with open_ws(server, bob.token, compression=False) as b_ws:
            await b_ws.ping()
            reading = asyncio.ensure_future(collect_created(b_ws, 300, timeout=120))
            sent = await send_paced(alice, bob.id, [filler(i) for i in range(300)])
            received = await reading
            assert [f for f in await b_ws.ping() if f["type"].startswith("message.")] == []

    assert sorted(created_ids(received)) == sorted(sent)
