"""Conversation history: GET /conversations/{peer_id}/messages, newest first, with cursors."""

import asyncio

import httpx

from tests.support.api_errors import assert_error
from tests.support.factories import SignedInUser, UserFactory, befriend
from tests.support.messaging import (
    MESSAGE_KEYS,
    UNKNOWN_ID,
    Json,
    assert_errors,
    friends,
    full_history,
    history_page,
    history_pages,
    send,
    send_each,
)
from tests.support.server import RunningServer


async def send_at_once(sender: SignedInUser, recipient: SignedInUser, count: int) -> list[Json]:
    """Send ``count`` messages concurrently; return them (in no particular order)."""
    return list(await asyncio.gather(*(send(sender, recipient, f"bulk {n}") for n in range(count))))


def ids(messages: list[Json]) -> list[str]:
    return [message["id"] for message in messages]


async def test_history_is_newest_first(server: RunningServer, users: UserFactory) -> None:
    """Messages come newest first, from both sides, each with every field of a message."""
    alice, bob = await friends(users)
    first = await send(alice, bob, "first")
    second = await send(bob, alice, "second")
    third = await send(alice, bob, "third")

    body = await history_page(alice, bob.id)

    assert set(body) >= {"messages", "next_before"}
    assert body["messages"] == [third, second, first]
    assert all(set(m) >= MESSAGE_KEYS for m in body["messages"])
    assert body["next_before"] is None


async def test_both_sides_read_the_same_history(server: RunningServer, users: UserFactory) -> None:
    """A conversation reads the same from either side."""
    alice, bob = await friends(users)
    await send_each(alice, bob, 3)
    await send_each(bob, alice, 3)

    assert await full_history(alice, bob.id) == await full_history(bob, alice.id)


async def test_history_holds_only_that_conversation(
    server: RunningServer, users: UserFactory
) -> None:
    """History with one friend holds none of the messages with another."""
    alice, bob = await friends(users)
    carol = await users.register()
    await befriend(alice, carol)
    with_bob = await send(alice, bob, "for Bob")
    await send(alice, carol, "for Carol")
    await send(carol, alice, "from Carol")

    assert await full_history(alice, bob.id) == [with_bob]
    assert await full_history(bob, alice.id) == [with_bob]


async def test_pages_hold_every_message_exactly_once(
    server: RunningServer, users: UserFactory
) -> None:
    """25 messages read 7 at a time: pages of 7, 7, 7, 4, each message once, in order."""
    alice, bob = await friends(users)
    sent = await send_each(alice, bob, 13) + await send_each(bob, alice, 12)

    pages = await history_pages(alice, bob.id, limit=7)

    assert [len(p["messages"]) for p in pages] == [7, 7, 7, 4]
    assert [p["next_before"] is None for p in pages] == [False, False, False, True]
    assert ids([m for p in pages for m in p["messages"]]) == ids(sent[::-1])


async def test_an_exactly_full_last_page_ends_the_history(
    server: RunningServer, users: UserFactory
) -> None:
    """When the oldest message ends a full page, that page's next_before is already null."""
    alice, bob = await friends(users)
    sent = await send_each(alice, bob, 14)

    pages = await history_pages(alice, bob.id, limit=7)

    assert [len(p["messages"]) for p in pages] == [7, 7]
    assert pages[-1]["next_before"] is None
    assert ids([m for p in pages for m in p["messages"]]) == ids(sent[::-1])


async def test_concurrently_sent_messages_page_exactly_once(
    server: RunningServer, users: UserFactory
) -> None:
    """Messages sent all at once also page out each exactly once, in history's own order."""
    alice, bob = await friends(users)
    sent = await send_at_once(alice, bob, 40)

    paged = [m for p in await history_pages(bob, alice.id, limit=7) for m in p["messages"]]

    assert sorted(ids(paged)) == sorted(ids(sent))
    assert ids(paged) == ids(await full_history(bob, alice.id, limit=200))


async def test_new_messages_do_not_shift_later_pages(
    server: RunningServer, users: UserFactory
) -> None:
    """Paging on with next_before while new messages arrive skips and repeats nothing."""
    alice, bob = await friends(users)
    older = await send_each(alice, bob, 10)
    first = await history_page(bob, alice.id, limit=4)

    await send_each(alice, bob, 5, prefix="newer")
    rest = await full_history_from(bob, alice.id, first["next_before"], limit=4)

    assert ids(first["messages"] + rest) == ids(older[::-1])


async def full_history_from(
    user: SignedInUser, peer_id: str, before: str, *, limit: int
) -> list[Json]:
    messages: list[Json] = []
    cursor: str | None = before
    while cursor is not None:
        page = await history_page(user, peer_id, limit=limit, before=cursor)
        messages.extend(page["messages"])
        cursor = page["next_before"]
        assert len(messages) < 1000, "next_before never became null"
    return messages


async def test_default_page_is_50(server: RunningServer, users: UserFactory) -> None:
    """Without limit a page holds 50 messages, the newest ones."""
    alice, bob = await friends(users)
    sent = await send_each(alice, bob, 53)

    body = await history_page(bob, alice.id)

    assert ids(body["messages"]) == ids(sent[::-1][:50])
    assert body["next_before"] is not None


async def test_limit_over_200_is_clamped_to_200(server: RunningServer, users: UserFactory) -> None:
    """A limit over 200 is no error: the page holds 200 and the rest follows."""
    alice, bob = await friends(users)
    await send_at_once(alice, bob, 203)

    for limit in (201, 10**9):
        body = await history_page(alice, bob.id, limit=limit)
        assert len(body["messages"]) == 200
        assert body["next_before"] is not None
        rest = await history_page(alice, bob.id, limit=limit, before=body["next_before"])
        assert len(rest["messages"]) == 3
        assert rest["next_before"] is None


async def test_history_with_an_existing_stranger_is_empty(
    server: RunningServer, users: UserFactory
) -> None:
    """Any existing user's history is 200: empty with someone never messaged."""
    alice, stranger = await users.register(), await users.register()

    body = await history_page(alice, stranger.id)

    assert body["messages"] == []
    assert body["next_before"] is None


async def test_history_with_an_unknown_user_is_404(
    server: RunningServer, users: UserFactory
) -> None:
    """History with an id that names nobody, or is malformed, is 404."""
    alice = await users.register()
    peers = {"unknown": UNKNOWN_ID, "malformed": "nope", "lowercase": UNKNOWN_ID.lower()}

    responses = {
        name: await alice.get(f"/conversations/{peer_id}/messages")
        for name, peer_id in peers.items()
    }

    assert_errors(responses, 404)


async def test_an_invalid_before_is_422(server: RunningServer, users: UserFactory) -> None:
    """A before that is no cursor of this list is 422 in the error shape, never a 5xx."""
    alice, bob = await friends(users)
    await send_each(alice, bob, 2)
    cursors = ["abc", "-1", "1.5", "1e3", "", " 3", "9" * 40, "MjAyNHxhYmM"]

    responses = {
        before: await alice.get(f"/conversations/{bob.id}/messages", params={"before": before})
        for before in cursors
    }

    assert_errors(responses, 422)


async def test_an_invalid_limit_is_refused(server: RunningServer, users: UserFactory) -> None:
    """A limit that is not a positive whole number is 400 or 422, never a 5xx."""
    alice, bob = await friends(users)

    responses = {
        limit: await alice.get(f"/conversations/{bob.id}/messages", params={"limit": limit})
        for limit in ("0", "-5", "ten", "2.5")
    }

    assert_errors(responses, 400, 422)


async def test_history_stays_readable_after_unfriending(
    server: RunningServer, users: UserFactory
) -> None:
    """After an unfriend both sides still read every message."""
    alice, bob = await friends(users)
    sent = await send_each(alice, bob, 3) + await send_each(bob, alice, 2)

    assert (await alice.client.delete(f"/friends/{bob.id}")).status_code == 204

    assert ids(await full_history(alice, bob.id)) == ids(sent[::-1])
    assert ids(await full_history(bob, alice.id)) == ids(sent[::-1])


async def test_history_stays_readable_after_a_block(
    server: RunningServer, users: UserFactory
) -> None:
    """After a block both the blocker and the blocked user still read every message."""
    alice, bob = await friends(users)
    sent = await send_each(alice, bob, 2) + await send_each(bob, alice, 2)

    assert (await alice.client.post("/blocks", json={"user_id": bob.id})).status_code == 204

    assert ids(await full_history(alice, bob.id)) == ids(sent[::-1])
    assert ids(await full_history(bob, alice.id)) == ids(sent[::-1])


async def test_history_unauthenticated_is_401(
    server: RunningServer, users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """History without a token is 401."""
    alice, bob = await friends(users)
    await send(alice, bob, "private")

    assert_error(await anon.get(f"/conversations/{bob.id}/messages"), 401)
