"""The event stream: GET /sync?since=<cursor>, in order, never skipping or repeating."""

import asyncio
import dataclasses
from collections.abc import Awaitable

import httpx

from tests.conftest import ServerStarter
from tests.support.api_errors import assert_error
from tests.support.factories import SignedInUser, UserFactory, befriend, send_friend_request
from tests.support.messaging import (
    Json,
    assert_errors,
    created_ids,
    fresh_cursor,
    friends,
    full_history,
    mark_read,
    of_type,
    send,
    send_each,
    sync_all,
    sync_page,
)
from tests.support.server import RunningServer

EVENT_KEYS = {"type", "data", "cursor"}


def cursors(events: list[Json]) -> list[str]:
    return [event["cursor"] for event in events]


# Cursors


async def test_without_since_sync_gives_a_fresh_cursor_and_no_events(
    server: RunningServer, users: UserFactory
) -> None:
    """No since: an empty page whose cursor is now; what came before is never replayed."""
    alice, bob = await friends(users)
    await send(alice, bob, "before the cursor")

    body = await sync_page(alice)

    assert body["events"] == []
    assert body["has_more"] is False
    assert isinstance(body["cursor"], str)
    assert await sync_all(alice, body["cursor"]) == []
    after = await send(bob, alice, "after the cursor")
    assert created_ids(await sync_all(alice, body["cursor"])) == [after["id"]]


async def test_since_zero_reads_the_stream_from_its_start(
    server: RunningServer, users: UserFactory
) -> None:
    """since=0 returns every event of the user, each with type, data and cursor."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "hello")

    events = await sync_all(alice, "0")

    assert all(set(event) >= EVENT_KEYS for event in events), events
    assert all(isinstance(event["cursor"], str) for event in events), events
    kinds = ("friend_request.created", "friend_request.accepted", "message.created")
    assert [e["type"] for e in of_type(events, *kinds)] == list(kinds)
    assert of_type(events, "message.created")[0]["data"] == {"message": message}


async def test_the_page_cursor_is_the_last_events_cursor(
    server: RunningServer, users: UserFactory
) -> None:
    """The returned cursor is that of the page's last event; with no events it stays put."""
    alice, bob = await friends(users)
    since = await fresh_cursor(alice)
    sent = await send_each(bob, alice, 3)

    body = await sync_page(alice, since)

    assert created_ids(body["events"]) == [m["id"] for m in sent]
    assert body["cursor"] == body["events"][-1]["cursor"]
    again = await sync_page(alice, body["cursor"])
    assert (again["events"], again["cursor"], again["has_more"]) == ([], body["cursor"], False)


async def test_each_events_cursor_resumes_right_after_it(
    server: RunningServer, users: UserFactory
) -> None:
    """Syncing from any event's cursor returns exactly the events after that one."""
    alice, bob = await friends(users)
    await send_each(alice, bob, 3)
    await send_each(bob, alice, 3)
    events = await sync_all(alice, "0")

    for index, event in enumerate(events):
        assert await sync_all(alice, event["cursor"]) == events[index + 1 :]


async def test_cursors_never_repeat(server: RunningServer, users: UserFactory) -> None:
    """Every event of a stream has its own cursor."""
    alice, bob = await friends(users)
    await send_each(alice, bob, 5)
    await send_each(bob, alice, 5)

    events = await sync_all(alice, "0")

    assert len(set(cursors(events))) == len(events)


async def test_an_invalid_cursor_is_422(server: RunningServer, users: UserFactory) -> None:
    """A since that is not a cursor is 422 in the error shape, never a 5xx."""
    alice = await users.register()
    cursors = ["abc", "-1", "1.5", "", " 1", "0x10", "9" * 40, "１２", "MjAyNHxhYmM"]

    responses = {since: await alice.get("/sync", params={"since": since}) for since in cursors}

    assert_errors(responses, 422)


async def test_an_invalid_limit_is_refused(server: RunningServer, users: UserFactory) -> None:
    """A sync limit that is not a positive whole number is 400 or 422."""
    alice = await users.register()

    responses = {
        limit: await alice.get("/sync", params={"since": "0", "limit": limit})
        for limit in ("0", "-1", "many", "1.5")
    }

    assert_errors(responses, 400, 422)


async def test_sync_unauthenticated_is_401(server: RunningServer, anon: httpx.AsyncClient) -> None:
    """/sync needs a signed-in user."""
    assert_error(await anon.get("/sync", params={"since": "0"}), 401)


# Pages


async def test_limit_pages_with_has_more_and_never_skips_or_repeats(
    server: RunningServer, users: UserFactory
) -> None:
    """limit=2: full pages say has_more until the last; together they are the whole stream."""
    alice, bob = await friends(users)
    since = await fresh_cursor(alice)
    sent = await send_each(alice, bob, 5)
    full = await sync_all(alice, since)
    assert created_ids(full) == [m["id"] for m in sent]

    pages = [await sync_page(alice, since, limit=2)]
    while pages[-1]["has_more"]:
        pages.append(await sync_page(alice, pages[-1]["cursor"], limit=2))
        assert len(pages) <= len(full), "has_more never became false"

    sizes = [2] * (len(full) // 2) + ([len(full) % 2] if len(full) % 2 else [])
    assert [len(p["events"]) for p in pages] == sizes
    assert [e for p in pages for e in p["events"]] == full


async def test_default_limit_is_500(server: RunningServer, users: UserFactory) -> None:
    """Without limit a sync page holds 500 events and says has_more when more follow."""
    alice, bob = await friends(users)
    since = await fresh_cursor(alice)
    await asyncio.gather(*(send(alice, bob, f"n{n}") for n in range(503)))
    full = await sync_all(alice, since, limit=1000)
    assert len(created_ids(full)) == 503

    first = await sync_page(alice, since)

    assert first["events"] == full[:500]
    assert first["has_more"] is True
    assert await sync_all(alice, first["cursor"]) == full[500:]


# What the stream holds


async def test_a_message_is_in_the_streams_of_sender_and_recipient(
    server: RunningServer, users: UserFactory
) -> None:
    """message.created reaches both sides (a user's own sends included) with the message."""
    alice, bob = await friends(users)
    since_alice, since_bob = await fresh_cursor(alice), await fresh_cursor(bob)

    message = await send(alice, bob, "to both streams", client_id="c-7")

    for user, since in ((alice, since_alice), (bob, since_bob)):
        events = of_type(await sync_all(user, since), "message.created")
        assert [e["data"] for e in events] == [{"message": message}]


async def test_other_peoples_messages_stay_out_of_a_stream(
    server: RunningServer, users: UserFactory
) -> None:
    """A user's stream holds nothing about conversations they are not part of."""
    alice, bob = await friends(users)
    carol = await users.register()
    since = await fresh_cursor(carol)

    message = await send(alice, bob, "not for Carol")
    await alice.client.patch(f"/messages/{message['id']}", json={"content": "still not"})
    await mark_read(bob, alice.id, message["id"])
    await alice.client.delete(f"/messages/{message['id']}")

    assert await sync_all(carol, since) == []


async def test_an_edit_is_message_updated_for_both(
    server: RunningServer, users: UserFactory
) -> None:
    """An edit appears as message.updated with the edited message in both streams."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "befor")
    since_alice, since_bob = await fresh_cursor(alice), await fresh_cursor(bob)

    response = await alice.client.patch(f"/messages/{message['id']}", json={"content": "before"})
    assert response.status_code == 200, response.text

    for user, since in ((alice, since_alice), (bob, since_bob)):
        events = of_type(await sync_all(user, since), "message.updated")
        assert [e["data"] for e in events] == [response.json()]


async def test_a_delete_is_message_deleted_with_the_tombstone_for_both(
    server: RunningServer, users: UserFactory
) -> None:
    """A delete appears as message.deleted carrying the tombstone, in both streams."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "soon gone")
    since_alice, since_bob = await fresh_cursor(alice), await fresh_cursor(bob)

    assert (await alice.client.delete(f"/messages/{message['id']}")).status_code == 204

    (tombstone,) = await full_history(bob, alice.id)
    for user, since in ((alice, since_alice), (bob, since_bob)):
        events = of_type(await sync_all(user, since), "message.deleted")
        assert [e["data"] for e in events] == [{"message": tombstone}]
    assert tombstone["content"] == ""
    assert tombstone["deleted_at"] is not None


async def test_a_read_sends_receipt_read_to_the_peer(
    server: RunningServer, users: UserFactory
) -> None:
    """Reading sends the peer receipt.read {peer_id: reader, up_to, seq}; once per advance."""
    alice, bob = await friends(users)
    sent = await send_each(bob, alice, 3)
    since = await fresh_cursor(bob)

    assert (await mark_read(alice, bob.id, sent[1]["id"])).status_code == 204
    assert (await mark_read(alice, bob.id, sent[1]["id"])).status_code == 204
    assert (await mark_read(alice, bob.id, sent[0]["id"])).status_code == 204

    receipts = of_type(await sync_all(bob, since), "receipt.read")
    expected = {"peer_id": alice.id, "up_to": sent[1]["id"], "seq": sent[1]["seq"]}
    assert [e["data"] for e in receipts] == [expected]


async def test_a_receipt_never_reaches_a_third_user(
    server: RunningServer, users: UserFactory
) -> None:
    """Only the peer of the conversation gets the receipt."""
    alice, bob = await friends(users)
    carol = await users.register()
    await befriend(alice, carol)
    message = await send(bob, alice, "hi")
    since = await fresh_cursor(carol)

    assert (await mark_read(alice, bob.id, message["id"])).status_code == 204

    assert of_type(await sync_all(carol, since), "receipt.read") == []


async def test_friend_requests_are_in_both_streams(
    server: RunningServer, users: UserFactory
) -> None:
    """friend_request.created then friend_request.accepted reach both users, with their data."""
    alice, bob = await users.register(), await users.register()
    since_alice, since_bob = await fresh_cursor(alice), await fresh_cursor(bob)

    request = await send_friend_request(alice, bob)
    accepted = await bob.client.post(f"/friend-requests/{request['id']}/accept")
    assert accepted.status_code == 200, accepted.text

    for user, other, since in ((alice, bob, since_alice), (bob, alice, since_bob)):
        events = of_type(
            await sync_all(user, since), "friend_request.created", "friend_request.accepted"
        )
        assert [e["type"] for e in events] == ["friend_request.created", "friend_request.accepted"]
        assert events[0]["data"] == {"request": request}
        accept = events[1]["data"]
        assert accept["request_id"] == request["id"]
        assert accept["friendship"]["user"]["id"] == other.id


async def test_after_a_block_reads_send_no_receipt_either_way(
    server: RunningServer, users: UserFactory
) -> None:
    """A block stops delivery between the two: neither side's reads reach the other."""
    alice, bob = await friends(users)
    from_bob = await send(bob, alice, "before the block")
    from_alice = await send(alice, bob, "also before")
    assert (await alice.client.post("/blocks", json={"user_id": bob.id})).status_code == 204
    since_alice, since_bob = await fresh_cursor(alice), await fresh_cursor(bob)

    alice_reads = await mark_read(alice, bob.id, from_bob["id"])
    bob_reads = await mark_read(bob, alice.id, from_alice["id"])

    assert alice_reads.status_code < 500, alice_reads.text
    assert bob_reads.status_code < 500, bob_reads.text
    assert of_type(await sync_all(bob, since_bob), "receipt.read") == []
    assert of_type(await sync_all(alice, since_alice), "receipt.read") == []


async def test_events_come_in_the_order_they_happened(
    server: RunningServer, users: UserFactory
) -> None:
    """A mixed history (send, reply, edit, read, delete) reads back in the order it happened."""
    alice, bob = await friends(users)
    since = await fresh_cursor(alice)
    mine = await send(alice, bob, "one")
    theirs = await send(bob, alice, "two")
    await alice.client.patch(f"/messages/{mine['id']}", json={"content": "one!"})
    await mark_read(bob, alice.id, mine["id"])
    await alice.client.delete(f"/messages/{mine['id']}")
    last = await send(alice, bob, "three")

    events = await sync_all(alice, since)

    wanted = [
        ("message.created", mine["id"]),
        ("message.created", theirs["id"]),
        ("message.updated", mine["id"]),
        ("receipt.read", mine["id"]),
        ("message.deleted", mine["id"]),
        ("message.created", last["id"]),
    ]
    seen = [
        (e["type"], e["data"]["message"]["id"] if "message" in e["data"] else e["data"]["up_to"])
        for e in of_type(
            events, "message.created", "message.updated", "message.deleted", "receipt.read"
        )
    ]
    assert seen == wanted


# Under concurrency


async def poll_until(
    user: SignedInUser, done: asyncio.Event, *, limit: int
) -> tuple[list[Json], int]:
    """Poll /sync from the start of ``user``'s stream until ``done``, then drain it.

    Returns every event seen and how many polls returned events before ``done`` was set.
    """
    seen: list[Json] = []
    cursor = "0"
    busy_polls = 0
    while not done.is_set():
        body = await sync_page(user, cursor, limit=limit)
        seen.extend(body["events"])
        cursor = body["cursor"]
        busy_polls += bool(body["events"])
    while True:
        body = await sync_page(user, cursor, limit=limit)
        seen.extend(body["events"])
        cursor = body["cursor"]
        if not body["has_more"]:
            return seen, busy_polls


async def run_with_poller(
    reader: SignedInUser, writers: list[Awaitable[list[Json]]], *, limit: int = 9
) -> tuple[list[Json], int, list[Json]]:
    """Run ``writers`` concurrently while ``reader`` polls /sync; return what each saw."""
    done = asyncio.Event()
    poller = asyncio.create_task(poll_until(reader, done, limit=limit))
    try:
        results = await asyncio.gather(*writers)
    except BaseException:
        poller.cancel()
        raise
    finally:
        done.set()
    seen, busy_polls = await poller
    return seen, busy_polls, [message for result in results for message in result]


def assert_same_stream(seen: list[Json], full: list[Json]) -> None:
    """What a poller saw is exactly the stream: same events, same order, no repeats."""
    assert len(set(cursors(seen))) == len(seen), "an event was delivered twice"
    missing = set(cursors(full)) - set(cursors(seen))
    assert not missing, f"polling skipped {len(missing)} events"
    assert seen == full


async def sender(
    pairs: list[tuple[SignedInUser, SignedInUser]], count: int, label: str, burst: int = 5
) -> list[Json]:
    """Send ``count`` messages cycling over ``pairs``, ``burst`` at a time concurrently."""
    sent: list[Json] = []
    for start in range(0, count, burst):
        batch = [send(*pairs[n % len(pairs)], f"{label} {n}") for n in range(start, start + burst)]
        sent.extend(await asyncio.gather(*batch))
    return sent


def between(messages: list[Json], a: SignedInUser, b: SignedInUser) -> set[str]:
    """The ids of the messages of the conversation between ``a`` and ``b``."""
    pair = {a.id, b.id}
    return {m["id"] for m in messages if {m["sender_id"], m["recipient_id"]} == pair}


async def assert_stream_matches_storage(
    hub: SignedInUser, peers: list[SignedInUser], full: list[Json], sent: list[Json]
) -> None:
    """The hub's stream holds each of its messages once, in each conversation's order."""
    stored = {peer.id: await full_history(hub, peer.id) for peer in peers}
    mine = set().union(*(between(sent, hub, peer) for peer in peers))
    assert sorted(created_ids(full)) == sorted(mine), "stream and sent messages differ"
    assert {m["id"] for history in stored.values() for m in history} == mine
    for peer in peers:
        ids = between(sent, hub, peer)
        in_stream = [i for i in created_ids(full) if i in ids]
        assert in_stream == [m["id"] for m in reversed(stored[peer.id])]


async def test_polling_while_four_senders_write_sees_every_event_once(
    server: RunningServer, users: UserFactory
) -> None:
    """While 4 tasks send 200 messages, a poller sees exactly the stored stream, in order."""
    hub = await users.register()
    a, b, c = [await users.register() for _ in range(3)]
    for peer in (a, b, c):
        await befriend(hub, peer)
    await befriend(a, b)

    seen, busy_polls, sent = await run_with_poller(
        hub,
        [
            sender([(hub, a)], 50, "hub to a"),
            sender([(b, hub)], 50, "b to hub"),
            sender([(hub, c), (c, hub)], 50, "hub and c"),
            sender([(a, b), (b, a)], 50, "a and b"),
        ],
    )

    assert len({m["id"] for m in sent}) == 200
    full = await sync_all(hub, "0")
    assert_same_stream(seen, full)
    assert busy_polls >= 2, "the poller never read while messages were being written"
    assert len(created_ids(full)) == 150
    await assert_stream_matches_storage(hub, [a, b, c], full, sent)


async def chatter(writer: SignedInUser, reader: SignedInUser, count: int, label: str) -> list[Json]:
    """Send ``count`` messages, editing, deleting and reading some as they arrive."""
    sent: list[Json] = []
    for n in range(count):
        message = await send(writer, reader, f"{label} {n}")
        sent.append(message)
        if n % 3 == 0:
            edited = await writer.client.patch(
                f"/messages/{message['id']}", json={"content": f"{label} {n} (edited)"}
            )
            assert edited.status_code == 200, edited.text
        if n % 4 == 1:
            assert (await mark_read(reader, writer.id, message["id"])).status_code == 204
        if n % 5 == 2:
            assert (await writer.client.delete(f"/messages/{message['id']}")).status_code == 204
    return sent


def replay(events: list[Json]) -> dict[str, Json]:
    """The state of each message after applying the stream's message events in order."""
    state: dict[str, Json] = {}
    for event in of_type(events, "message.created", "message.updated", "message.deleted"):
        message = event["data"]["message"]
        state[message["id"]] = message
    return state


async def test_polling_while_edits_deletes_and_receipts_commit_sees_every_event_once(
    server: RunningServer, users: UserFactory
) -> None:
    """Sends, edits, deletes and receipts at once: the poller's stream replays to storage."""
    hub = await users.register()
    peers = [await users.register() for _ in range(4)]
    for peer in peers:
        await befriend(hub, peer)

    seen, busy_polls, sent = await run_with_poller(
        hub,
        [
            chatter(hub, peers[0], 30, "hub to 0"),
            chatter(peers[1], hub, 30, "1 to hub"),
            chatter(hub, peers[2], 30, "hub to 2"),
            chatter(peers[3], hub, 30, "3 to hub"),
        ],
    )

    full = await sync_all(hub, "0")
    assert_same_stream(seen, full)
    assert busy_polls >= 2, "the poller never read while messages were being written"
    await assert_stream_matches_storage(hub, peers, full, sent)
    stored = {m["id"]: m for peer in peers for m in await full_history(hub, peer.id)}
    assert replay(full) == stored
    receipts = of_type(full, "receipt.read")
    # Peers 0 and 2 each read 8 of the hub's 30 messages, one receipt per read.
    assert len(receipts) == 2 * 8


async def test_polling_while_two_servers_write_sees_every_event_once(
    server: RunningServer, start_server: ServerStarter, users: UserFactory
) -> None:
    """Two servers on one database writing at once: a poller still misses and repeats nothing."""
    other = await start_server()
    elsewhere = UserFactory(other.api_url)
    try:
        hub = await users.register()
        peers = [await users.register() for _ in range(3)]
        for peer in peers:
            await befriend(hub, peer)

        def on_other(user: SignedInUser) -> SignedInUser:
            return dataclasses.replace(user, client=elsewhere.client(user.token))

        hub2 = on_other(hub)
        seen, busy_polls, sent = await run_with_poller(
            on_other(hub),
            [
                sender([(hub, peers[0])], 40, "here"),
                sender([(hub2, peers[1])], 40, "there"),
                chatter(on_other(peers[2]), hub, 20, "chat there"),
                chatter(peers[0], hub2, 20, "chat mixed"),
            ],
        )
    finally:
        await elsewhere.close()

    full = await sync_all(hub, "0")
    assert_same_stream(seen, full)
    assert busy_polls >= 2, "the poller never read while messages were being written"
    await assert_stream_matches_storage(hub, peers, full, sent)
    assert replay(full) == {m["id"]: m for p in peers for m in await full_history(hub, p.id)}
