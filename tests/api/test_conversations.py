"""The conversations list and read receipts: GET /conversations, POST .../read."""

import base64

import httpx
import pytest

from tests.support.api_errors import assert_error
from tests.support.clock import FakeClock
from tests.support.factories import SignedInUser, UserFactory, befriend
from tests.support.messaging import (
    PUBLIC_USER_KEYS,
    UNKNOWN_ID,
    Json,
    assert_errors,
    conversation_with,
    conversations,
    conversations_page,
    friends,
    mark_read,
    send,
    send_each,
    unread,
)
from tests.support.server import RunningServer


async def friends_of(users: UserFactory, user: SignedInUser, count: int) -> list[SignedInUser]:
    """``count`` new users, each a friend of ``user``."""
    found = []
    for _ in range(count):
        friend = await users.register()
        await befriend(user, friend)
        found.append(friend)
    return found


def peer_ids(listed: list[Json]) -> list[str]:
    return [conversation["peer"]["id"] for conversation in listed]


async def all_conversation_pages(user: SignedInUser, *, limit: int) -> list[Json]:
    """Every page of ``user``'s conversations, following next_before to the end."""
    pages: list[Json] = []
    before: str | None = None
    while True:
        params: Json = {"limit": limit} if before is None else {"limit": limit, "before": before}
        pages.append(await conversations_page(user, **params))
        before = pages[-1]["next_before"]
        if before is None:
            return pages
        assert len(pages) < 100, "next_before never became null"


# The list


async def test_a_new_user_has_no_conversations(server: RunningServer, users: UserFactory) -> None:
    """Someone who never messaged anyone has an empty list."""
    alice = await users.register()

    body = await conversations_page(alice)

    assert body["conversations"] == []
    assert body.get("next_before") is None


async def test_a_conversation_shows_peer_last_message_and_unread_count(
    server: RunningServer, users: UserFactory
) -> None:
    """Each entry is {peer (public user), last_message, unread_count}, for both sides."""
    alice, bob = await friends(users)
    await send(alice, bob, "first")
    last = await send(alice, bob, "second")

    for user, peer, unread_count in ((alice, bob, 0), (bob, alice, 2)):
        (entry,) = await conversations(user)
        assert set(entry) >= {"peer", "last_message", "unread_count"}
        assert set(entry["peer"]) >= PUBLIC_USER_KEYS
        assert "email" not in entry["peer"]
        assert entry["peer"]["id"] == peer.id
        assert entry["peer"]["username"] == peer.username
        assert entry["last_message"] == last
        assert entry["unread_count"] == unread_count


async def test_friends_never_messaged_are_not_listed(
    server: RunningServer, users: UserFactory
) -> None:
    """Friendship alone makes no conversation; the first message does."""
    alice, bob = await friends(users)
    carol = await users.register()
    await befriend(alice, carol)
    await send(carol, alice, "hi")

    assert peer_ids(await conversations(alice)) == [carol.id]
    assert await conversations(bob) == []


async def test_newest_activity_comes_first(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """The list is ordered by the latest message, either side's, newest first."""
    alice = await users.register()
    bob, carol, dave = await friends_of(users, alice, 3)
    for friend in (bob, carol, dave):
        await send(alice, friend, f"hi {friend.username}")
        clock.advance(seconds=1)
    assert peer_ids(await conversations(alice)) == [dave.id, carol.id, bob.id]

    latest = await send(bob, alice, "back to you")

    listed = await conversations(alice)
    assert peer_ids(listed) == [bob.id, dave.id, carol.id]
    assert listed[0]["last_message"] == latest


async def test_last_message_follows_edits_and_deletes(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """last_message shows the latest message as it is now: edited, or a tombstone."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "draft")
    clock.advance(seconds=1)
    edited = (
        await alice.client.patch(f"/messages/{message['id']}", json={"content": "final"})
    ).json()["message"]
    assert (await conversation_with(bob, alice))["last_message"] == edited

    assert (await alice.client.delete(f"/messages/{message['id']}")).status_code == 204

    tombstone = (await conversation_with(bob, alice))["last_message"]
    assert tombstone["id"] == message["id"]
    assert tombstone["content"] == ""
    assert tombstone["deleted_at"] is not None


async def test_conversations_page_with_limit(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """Conversations read 2 at a time: every one exactly once, newest first, then null."""
    alice = await users.register()
    peers = await friends_of(users, alice, 5)
    for peer in peers:
        await send(peer, alice, "hello")
        clock.advance(seconds=1)

    pages = await all_conversation_pages(alice, limit=2)

    assert [len(p["conversations"]) for p in pages] == [2, 2, 1]
    listed = [c for p in pages for c in p["conversations"]]
    assert peer_ids(listed) == [p.id for p in reversed(peers)]


async def test_conversations_with_the_same_time_page_exactly_once(
    server: RunningServer, users: UserFactory
) -> None:
    """Conversations whose last activity has the same time still page out each once."""
    alice = await users.register()
    peers = await friends_of(users, alice, 7)
    for peer in peers:
        await send(alice, peer, "same instant")

    pages = await all_conversation_pages(alice, limit=3)

    listed = peer_ids([c for p in pages for c in p["conversations"]])
    assert sorted(listed) == sorted(p.id for p in peers)
    assert listed == peer_ids(await conversations(alice))


async def test_an_invalid_conversations_before_is_422(
    server: RunningServer, users: UserFactory
) -> None:
    """A before that is not a cursor of this list is 422, never a 5xx."""
    alice, bob = await friends(users)
    await send(alice, bob)

    responses = {
        before: await alice.get("/conversations", params={"before": before})
        for before in ("abc", "-1", "", "MjAyNHxhYmM", "%%%", "12")
    }

    assert_errors(responses, 422)


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
    ids=["before_year_1_in_utc", "after_year_9999_in_utc"],
)
async def test_a_before_at_the_edge_of_time_is_never_a_5xx(
    server: RunningServer, users: UserFactory, moment: str
) -> None:
    """A crafted cursor whose time leaves the calendar in UTC is answered, never a 5xx."""
    alice, bob = await friends(users)
    await send(alice, bob)
    before = base64.urlsafe_b64encode(f"{moment}|{bob.id}".encode()).decode().rstrip("=")

    response = await alice.get("/conversations", params={"before": before})

    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert_error(response, 422)


# Unread counts and reading


async def test_unread_counts_only_the_peers_messages(
    server: RunningServer, users: UserFactory
) -> None:
    """Each side's unread count holds the other side's messages, never their own."""
    alice, bob = await friends(users)
    await send_each(bob, alice, 3)
    await send_each(alice, bob, 2)

    assert await unread(alice, bob) == 3
    assert await unread(bob, alice) == 2


async def test_reading_marks_up_to_and_including_that_message(
    server: RunningServer, users: UserFactory
) -> None:
    """read {up_to} is 204 and marks the peer's messages up to it; later ones stay unread."""
    alice, bob = await friends(users)
    sent = await send_each(bob, alice, 5)

    response = await mark_read(alice, bob.id, sent[2]["id"])

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await unread(alice, bob) == 2
    assert (await mark_read(alice, bob.id, sent[4]["id"])).status_code == 204
    assert await unread(alice, bob) == 0


async def test_reading_an_older_message_never_unreads(
    server: RunningServer, users: UserFactory
) -> None:
    """Marking an older message read after a newer one leaves the count where it was."""
    alice, bob = await friends(users)
    sent = await send_each(bob, alice, 4)
    assert (await mark_read(alice, bob.id, sent[3]["id"])).status_code == 204

    response = await mark_read(alice, bob.id, sent[0]["id"])

    assert response.status_code == 204, response.text
    assert await unread(alice, bob) == 0


async def test_reading_up_to_your_own_message_marks_the_peers_before_it(
    server: RunningServer, users: UserFactory
) -> None:
    """up_to may be one of your own messages: the peer's messages before it are read."""
    alice, bob = await friends(users)
    await send(bob, alice, "one")
    reply = await send(alice, bob, "reply")
    await send(bob, alice, "two")

    assert (await mark_read(alice, bob.id, reply["id"])).status_code == 204

    assert await unread(alice, bob) == 1


async def test_reading_changes_only_the_readers_count(
    server: RunningServer, users: UserFactory
) -> None:
    """Alice reading Bob's messages leaves Bob's unread count of Alice's messages alone."""
    alice, bob = await friends(users)
    from_bob = await send_each(bob, alice, 2)
    await send_each(alice, bob, 3)

    assert (await mark_read(alice, bob.id, from_bob[-1]["id"])).status_code == 204

    assert await unread(alice, bob) == 0
    assert await unread(bob, alice) == 3


async def test_messages_after_a_read_are_unread(server: RunningServer, users: UserFactory) -> None:
    """Messages that arrive after a read count as unread again."""
    alice, bob = await friends(users)
    first = await send(bob, alice, "first")
    assert (await mark_read(alice, bob.id, first["id"])).status_code == 204

    await send_each(bob, alice, 2)

    assert await unread(alice, bob) == 2


async def test_deleted_messages_do_not_count_as_unread(
    server: RunningServer, users: UserFactory
) -> None:
    """A message its sender deleted is no longer unread for the recipient."""
    alice, bob = await friends(users)
    sent = await send_each(bob, alice, 3)

    assert (await bob.client.delete(f"/messages/{sent[1]['id']}")).status_code == 204

    assert await unread(alice, bob) == 2


async def test_reading_a_message_of_another_conversation_is_404(
    server: RunningServer, users: UserFactory
) -> None:
    """up_to must belong to the conversation with that peer; otherwise 404 and nothing changes."""
    alice, bob = await friends(users)
    carol = await users.register()
    await befriend(alice, carol)
    await send(bob, alice, "unread")
    from_carol = await send(carol, alice, "other conversation")

    assert_error(await mark_read(alice, bob.id, from_carol["id"]), 404)
    assert await unread(alice, bob) == 1
    assert await unread(alice, carol) == 1


async def test_reading_someone_elses_conversation_is_404(
    server: RunningServer, users: UserFactory
) -> None:
    """A third user naming a message between two others gets 404."""
    alice, bob = await friends(users)
    mallory = await users.register()
    message = await send(bob, alice, "private")

    assert_error(await mark_read(mallory, bob.id, message["id"]), 404)
    assert_error(await mark_read(mallory, alice.id, message["id"]), 404)
    assert await unread(alice, bob) == 1


async def test_reading_up_to_an_unknown_message_is_404(
    server: RunningServer, users: UserFactory
) -> None:
    """An up_to that names no message is 404."""
    alice, bob = await friends(users)
    await send(bob, alice, "unread")
    up_tos = {"unknown": UNKNOWN_ID, "malformed": "nope", "empty": ""}

    responses = {name: await mark_read(alice, bob.id, up_to) for name, up_to in up_tos.items()}

    assert_errors(responses, 404)
    assert await unread(alice, bob) == 1


async def test_a_read_without_a_string_up_to_is_422(
    server: RunningServer, users: UserFactory
) -> None:
    """The read body needs up_to as a string: otherwise 422."""
    alice, bob = await friends(users)
    await send(bob, alice, "unread")
    bodies: dict[str, Json] = {
        "missing": {},
        "number": {"up_to": 5},
        "null": {"up_to": None},
        "list": {"up_to": ["x"]},
    }

    responses = {
        name: await alice.client.post(f"/conversations/{bob.id}/read", json=body)
        for name, body in bodies.items()
    }

    assert_errors(responses, 422)
    assert await unread(alice, bob) == 1


async def test_reading_unauthenticated_is_401(
    server: RunningServer, users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """Conversations and reading need a signed-in user: 401 without."""
    alice, bob = await friends(users)
    message = await send(bob, alice, "unread")

    assert_error(await anon.get("/conversations"), 401)
    response = await anon.post(f"/conversations/{bob.id}/read", json={"up_to": message["id"]})
    assert_error(response, 401)
    assert await unread(alice, bob) == 1
