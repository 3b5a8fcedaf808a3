"""Sending, editing and deleting messages (the contract's "Messages": POST, PATCH, DELETE)."""

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest

from tests.conftest import ServerStarter
from tests.support.api_errors import assert_error
from tests.support.clock import FakeClock
from tests.support.factories import SignedInUser, UserFactory, befriend, send_friend_request
from tests.support.messaging import (
    MESSAGE_KEYS,
    UNKNOWN_ID,
    Json,
    assert_errors,
    created_ids,
    fresh_cursor,
    friends,
    full_history,
    of_type,
    post_message,
    send,
    send_each,
    sync_all,
)
from tests.support.server import RunningServer
from tests.support.times import parse_utc

EXACT_CONTENTS = {
    "html_and_script": "<script>alert('x')</script><b>bold</b> &amp; &lt;tag&gt; <img src=x>",
    "emoji": "👋🏽 hello 🇫🇷 👨‍👩‍👧 ✨",
    "right_to_left": "مرحبا بالعالم — שלום עולם",
    "surrounding_spaces": "   padded on both sides   ",
    "newlines_and_tabs": "\nline one\r\n\tline two\n\n",
    "json_and_sql_specials": '"quotes" \\ backslash \' OR 1=1; -- \u2028\u2029 %s {}',
    "combining_marks": "e\u0301" * 5 + " Z\u0351\u0352\u0353",
    "ascii_at_limit": "x" * 4000,
    "emoji_at_limit": "😀" * 4000,
    "combining_at_limit": "e\u0301" * 2000,
    "mixed_at_limit": "a" + "😀" * 3998 + "b",
}

TOO_LONG = {
    "ascii": "x" * 4001,
    "emoji": "😀" * 4001,
    "combining": "e\u0301" * 2000 + "e",
}

NO_SUCH_MESSAGE = {"unknown": UNKNOWN_ID, "malformed": "nope", "lowercase": UNKNOWN_ID.lower()}

BLANK = {
    "empty": "",
    "space": " ",
    "mixed_whitespace": " \t\n\r\n  ",
    "no_break_space": "\u00a0",
    "ideographic_space": "\u3000\u3000",
}


async def delete(user: SignedInUser, message_id: str) -> httpx.Response:
    return await user.client.delete(f"/messages/{message_id}")


async def edit(user: SignedInUser, message_id: str, content: Any) -> httpx.Response:
    return await user.client.patch(f"/messages/{message_id}", json={"content": content})


async def only_message(user: SignedInUser, peer: SignedInUser) -> Json:
    """The one message of ``user``'s conversation with ``peer``."""
    messages = await full_history(user, peer.id)
    assert len(messages) == 1, messages
    return messages[0]


# Sending


async def test_send_answers_201_with_the_stored_message(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """A send answers 201 with the whole message: ids, content, times and client_id."""
    alice, bob = await friends(users)

    response = await post_message(alice, bob.id, "hi Bob", client_id="c-1")

    assert response.status_code == 201, response.text
    body = response.json()
    assert "message" in body
    message = body["message"]
    assert set(message) >= MESSAGE_KEYS
    assert isinstance(message["id"], str)
    assert message["id"]
    assert message["sender_id"] == alice.id
    assert message["recipient_id"] == bob.id
    assert message["content"] == "hi Bob"
    assert message["client_id"] == "c-1"
    assert parse_utc(message["created_at"]) == clock.now()
    assert message["edited_at"] is None
    assert message["deleted_at"] is None


async def test_send_without_client_id_has_null_client_id(
    server: RunningServer, users: UserFactory
) -> None:
    """client_id is optional; a message sent without one carries null."""
    alice, bob = await friends(users)

    message = await send(alice, bob)

    assert message["client_id"] is None


async def test_sent_message_is_in_history_of_both_once_answered(
    server: RunningServer, users: UserFactory
) -> None:
    """Once the 201 arrives, the message is already stored and both sides read it."""
    alice, bob = await friends(users)

    message = await send(alice, bob, "stored before the answer")

    assert await full_history(alice, bob.id) == [message]
    assert await full_history(bob, alice.id) == [message]


async def test_every_send_gets_its_own_id(server: RunningServer, users: UserFactory) -> None:
    """Two sends of the same text are two messages with different ids."""
    alice, bob = await friends(users)

    first, second = await send(alice, bob, "same"), await send(alice, bob, "same")

    assert first["id"] != second["id"]
    assert len(await full_history(bob, alice.id)) == 2


@pytest.mark.parametrize("content", list(EXACT_CONTENTS.values()), ids=list(EXACT_CONTENTS))
async def test_content_is_stored_and_returned_exactly(
    server: RunningServer, users: UserFactory, content: str
) -> None:
    """Content comes back exactly as sent: no trimming, no escaping, code points counted."""
    alice, bob = await friends(users)

    message = await send(alice, bob, content)

    assert message["content"] == content
    assert (await only_message(alice, bob))["content"] == content
    assert (await only_message(bob, alice))["content"] == content


# Refused content


async def test_content_over_4000_code_points_is_413(
    server: RunningServer, users: UserFactory
) -> None:
    """4,001 code points (astral or combining ones too) is 413 message_too_long; nothing stored."""
    alice, bob = await friends(users)

    responses = {name: await post_message(alice, bob.id, c) for name, c in TOO_LONG.items()}

    assert_errors(responses, 413)
    assert {name: r.json()["error"]["code"] for name, r in responses.items()} == dict.fromkeys(
        TOO_LONG, "message_too_long"
    )
    assert await full_history(alice, bob.id) == []


async def test_empty_or_whitespace_only_content_is_422(
    server: RunningServer, users: UserFactory
) -> None:
    """Content that is empty or only whitespace is 422; nothing is stored."""
    alice, bob = await friends(users)

    responses = {name: await post_message(alice, bob.id, c) for name, c in BLANK.items()}

    assert_errors(responses, 422)
    assert await full_history(alice, bob.id) == []


async def test_content_with_nul_is_422(server: RunningServer, users: UserFactory) -> None:
    """A NUL character in content is 422, never a database error."""
    alice, bob = await friends(users)
    contents = {"alone": "\x00", "inside": "before\x00after", "at_end": "text\x00"}

    responses = {name: await post_message(alice, bob.id, c) for name, c in contents.items()}

    assert_errors(responses, 422)
    assert await full_history(alice, bob.id) == []


async def test_content_with_unpaired_surrogate_is_422(
    server: RunningServer, users: UserFactory
) -> None:
    """A lone UTF-16 surrogate (valid JSON escape, invalid text) is 422, never a 5xx."""
    alice, bob = await friends(users)
    raw = '{"recipient_id": "' + bob.id + '", "content": "broken \\ud800 pair"}'

    response = await alice.client.post(
        "/messages", content=raw.encode(), headers={"content-type": "application/json"}
    )

    assert_error(response, 422)
    assert await full_history(alice, bob.id) == []


WRONG_BODIES: dict[str, dict[str, Any]] = {
    "missing_recipient": {"content": "no recipient"},
    "missing_content": {"recipient_id": "{recipient}"},
    "content_number": {"recipient_id": "{recipient}", "content": 42},
    "content_null": {"recipient_id": "{recipient}", "content": None},
    "content_list": {"recipient_id": "{recipient}", "content": ["a", "b"]},
    "content_object": {"recipient_id": "{recipient}", "content": {"text": "hi"}},
    "content_bool": {"recipient_id": "{recipient}", "content": True},
    "recipient_number": {"recipient_id": 12345, "content": "hi"},
    "recipient_null": {"recipient_id": None, "content": "hi"},
    "client_id_number": {"recipient_id": "{recipient}", "content": "hi", "client_id": 7},
    "client_id_list": {"recipient_id": "{recipient}", "content": "hi", "client_id": ["c"]},
}


async def test_wrong_types_are_422(server: RunningServer, users: UserFactory) -> None:
    """Missing fields and wrong JSON types are 422 in the error shape; nothing is stored."""
    alice, bob = await friends(users)

    responses = {}
    for name, body in WRONG_BODIES.items():
        filled = {key: bob.id if value == "{recipient}" else value for key, value in body.items()}
        responses[name] = await alice.client.post("/messages", json=filled)

    assert_errors(responses, 422)
    assert await full_history(alice, bob.id) == []


async def test_body_that_is_not_a_json_object_is_422(
    server: RunningServer, users: UserFactory
) -> None:
    """A body that is not a JSON object (or not JSON at all) is 422 in the error shape."""
    alice = await users.register()
    bodies = {"list": b"[]", "string": b'"hello"', "null": b"null", "bad": b"{not", "empty": b""}
    json_type = {"content-type": "application/json"}

    responses = {
        name: await alice.client.post("/messages", content=raw, headers=json_type)
        for name, raw in bodies.items()
    }

    assert_errors(responses, 422)


# Who may send


async def test_sending_to_a_non_friend_is_403(server: RunningServer, users: UserFactory) -> None:
    """Only friends may message each other: a stranger gets 403 not_friends."""
    alice, stranger = await users.register(), await users.register()

    response = await post_message(alice, stranger.id, "hello?")

    assert_error(response, 403, "not_friends")
    assert await full_history(stranger, alice.id) == []


async def test_sending_while_the_request_is_pending_is_403(
    server: RunningServer, users: UserFactory
) -> None:
    """A friend request not yet accepted does not allow messages, in either direction."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)

    assert_error(await post_message(alice, bob.id, "hi"), 403, "not_friends")
    assert_error(await post_message(bob, alice.id, "hi"), 403, "not_friends")


async def test_sending_to_an_unknown_or_malformed_recipient_is_404(
    server: RunningServer, users: UserFactory
) -> None:
    """A recipient id that names nobody, or is not an id at all, is 404."""
    alice = await users.register()
    recipients = {
        "unknown": UNKNOWN_ID,
        "malformed": "not-an-id",
        "empty": "",
        "long": "x" * 300,
        "path": "../users",
        "lowercase": UNKNOWN_ID.lower(),
    }

    responses = {name: await post_message(alice, r, "anyone?") for name, r in recipients.items()}

    assert_errors(responses, 404)


async def test_sending_to_yourself_is_422(server: RunningServer, users: UserFactory) -> None:
    """A user cannot message themself: 422, and no conversation appears."""
    alice = await users.register()

    response = await post_message(alice, alice.id, "note to self")

    assert_error(response, 422)
    assert await full_history(alice, alice.id) == []


async def test_sending_after_unfriending_is_403_both_ways(
    server: RunningServer, users: UserFactory
) -> None:
    """Once either side unfriends, neither may send any more."""
    alice, bob = await friends(users)
    await send(alice, bob, "while friends")

    response = await bob.client.delete(f"/friends/{alice.id}")
    assert response.status_code == 204, response.text

    assert_error(await post_message(alice, bob.id, "still there?"), 403, "not_friends")
    assert_error(await post_message(bob, alice.id, "bye"), 403, "not_friends")
    assert [m["content"] for m in await full_history(alice, bob.id)] == ["while friends"]


async def test_sending_after_a_block_is_403_both_ways(
    server: RunningServer, users: UserFactory
) -> None:
    """After a block, neither the blocker nor the blocked user may send."""
    alice, bob = await friends(users)

    response = await alice.client.post("/blocks", json={"user_id": bob.id})
    assert response.status_code == 204, response.text

    assert_error(await post_message(bob, alice.id, "let me in"), 403)
    assert_error(await post_message(alice, bob.id, "go away"), 403)
    assert await full_history(alice, bob.id) == []


async def keep_sending(sender: SignedInUser, recipient: SignedInUser, rounds: int) -> None:
    """Send 4 messages at once, ``rounds`` times; each is stored (201) or refused (403)."""
    for n in range(rounds):
        sends = (post_message(sender, recipient.id, f"{n}.{k}") for k in range(4))
        for response in await asyncio.gather(*sends):
            assert response.status_code in (201, 403), response.text


async def block(blocker: SignedInUser, blocked: SignedInUser) -> None:
    response = await blocker.client.post("/blocks", json={"user_id": blocked.id})
    assert response.status_code == 204, response.text


async def test_no_message_from_a_blocked_user_follows_the_block(
    server: RunningServer, users: UserFactory
) -> None:
    """Sends racing a block: the blocker's stream never shows a message after the block."""
    for _ in range(5):
        alice, bob = await friends(users)
        since = await fresh_cursor(alice)

        await asyncio.gather(keep_sending(bob, alice, rounds=6), block(alice, bob))

        types = [event["type"] for event in await sync_all(alice, since)]
        after_block = types[types.index("user.blocked") + 1 :]
        assert "message.created" not in after_block, types


async def test_sending_unauthenticated_is_401(
    server: RunningServer, users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """Without a valid token a send is 401 and nothing is stored."""
    alice, bob = await friends(users)
    body = {"recipient_id": bob.id, "content": "who am I?"}

    assert_error(await anon.post("/messages", json=body), 401)
    forged = {"Authorization": "Bearer not-a-real-token"}
    assert_error(await anon.post("/messages", json=body, headers=forged), 401)
    assert await full_history(alice, bob.id) == []


# Idempotency by client_id


async def test_resending_a_client_id_returns_200_with_the_same_message(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """A retry with the same client_id answers 200 with the SAME message, stored once."""
    alice, bob = await friends(users)
    first = await post_message(alice, bob.id, "only once", client_id="retry-1")
    assert first.status_code == 201, first.text
    clock.advance(seconds=5)

    retry = await post_message(alice, bob.id, "only once", client_id="retry-1")

    assert retry.status_code == 200, retry.text
    assert retry.json() == first.json()
    assert await full_history(bob, alice.id) == [first.json()["message"]]


async def test_resending_a_client_id_emits_no_second_event(
    server: RunningServer, users: UserFactory
) -> None:
    """A retry adds no message.created event to either stream."""
    alice, bob = await friends(users)
    since_alice, since_bob = await fresh_cursor(alice), await fresh_cursor(bob)
    message = await send(alice, bob, "once", client_id="retry-2")

    retry = await post_message(alice, bob.id, "once", client_id="retry-2")

    assert retry.status_code == 200, retry.text
    assert created_ids(await sync_all(alice, since_alice)) == [message["id"]]
    assert created_ids(await sync_all(bob, since_bob)) == [message["id"]]


async def test_reusing_a_client_id_with_other_content_is_409(
    server: RunningServer, users: UserFactory
) -> None:
    """The same client_id with different content is 409 client_id_conflict; the first stays."""
    alice, bob = await friends(users)
    original = await send(alice, bob, "original", client_id="reused")

    response = await post_message(alice, bob.id, "something else", client_id="reused")

    assert_error(response, 409, "client_id_conflict")
    assert await full_history(bob, alice.id) == [original]


async def test_reusing_a_client_id_for_another_recipient_is_409(
    server: RunningServer, users: UserFactory
) -> None:
    """The same client_id and content sent to someone else is a conflict, not a copy."""
    alice, bob = await friends(users)
    carol = await users.register()
    await befriend(alice, carol)
    await send(alice, bob, "hello", client_id="reused")

    response = await post_message(alice, carol.id, "hello", client_id="reused")

    assert_error(response, 409, "client_id_conflict")
    assert await full_history(carol, alice.id) == []


async def test_concurrent_duplicates_store_one_message(
    server: RunningServer, users: UserFactory
) -> None:
    """Ten identical sends at once with one client_id: one 201, nine 200, one stored message."""
    alice, bob = await friends(users)

    responses = await asyncio.gather(
        *(post_message(alice, bob.id, "at once", client_id="burst") for _ in range(10))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 9 + [201], [r.text for r in responses]
    messages = [r.json()["message"] for r in responses]
    assert all(m == messages[0] for m in messages), messages
    assert await full_history(bob, alice.id) == [messages[0]]


async def test_concurrent_duplicates_with_different_content_store_one_message(
    server: RunningServer, users: UserFactory
) -> None:
    """Two sends at once with one client_id and different content: one 201, one 409."""
    alice, bob = await friends(users)

    responses = await asyncio.gather(
        post_message(alice, bob.id, "first version", client_id="race"),
        post_message(alice, bob.id, "second version", client_id="race"),
    )

    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    (created,) = [r.json()["message"] for r in responses if r.status_code == 201]
    (conflict,) = [r for r in responses if r.status_code == 409]
    assert_error(conflict, 409, "client_id_conflict")
    assert await full_history(bob, alice.id) == [created]


async def test_client_ids_belong_to_their_sender(server: RunningServer, users: UserFactory) -> None:
    """Two senders may use the same client_id: each gets their own new message."""
    alice, bob = await friends(users)

    from_alice = await post_message(alice, bob.id, "same id", client_id="shared")
    from_bob = await post_message(bob, alice.id, "same id", client_id="shared")

    assert from_alice.status_code == 201, from_alice.text
    assert from_bob.status_code == 201, from_bob.text
    assert from_alice.json()["message"]["id"] != from_bob.json()["message"]["id"]
    assert len(await full_history(alice, bob.id)) == 2


async def test_duplicates_through_two_servers_store_one_message(
    server: RunningServer, start_server: ServerStarter, users: UserFactory
) -> None:
    """The same client_id sent to two servers on one database at once is stored once."""
    alice, bob = await friends(users)
    other = await start_server()
    headers = {"Authorization": f"Bearer {alice.token}"}
    async with httpx.AsyncClient(base_url=other.api_url, headers=headers, timeout=30) as client:
        alice_elsewhere = dataclasses.replace(alice, client=client)

        responses = await asyncio.gather(
            *(
                post_message(sender, bob.id, "twice", client_id=f"node-{n}")
                for n in range(20)
                for sender in (alice, alice_elsewhere)
            )
        )

    for n in range(20):
        pair = responses[2 * n : 2 * n + 2]
        assert sorted(r.status_code for r in pair) == [200, 201], [r.text for r in pair]
        assert pair[0].json() == pair[1].json()
    history = await full_history(bob, alice.id)
    assert sorted(m["client_id"] for m in history) == sorted(f"node-{n}" for n in range(20))


# Ordering


async def test_one_senders_sequential_sends_keep_their_order(
    server: RunningServer, users: UserFactory
) -> None:
    """Messages sent one after another appear in history in that order (newest first)."""
    alice, bob = await friends(users)

    sent = await send_each(alice, bob, 12)

    assert [m["id"] for m in await full_history(bob, alice.id)] == [m["id"] for m in sent[::-1]]


async def test_concurrent_sends_are_stored_once_each_in_commit_order(
    server: RunningServer, users: UserFactory
) -> None:
    """50 sends at once from both sides: each stored once; history order is stream order."""
    alice, bob = await friends(users)
    since_alice, since_bob = await fresh_cursor(alice), await fresh_cursor(bob)

    sent = await asyncio.gather(
        *(send(alice, bob, f"a{n}") if n % 2 == 0 else send(bob, alice, f"b{n}") for n in range(50))
    )

    oldest_first = [m["id"] for m in reversed(await full_history(alice, bob.id, limit=7))]
    assert sorted(oldest_first) == sorted(m["id"] for m in sent)
    assert len(set(oldest_first)) == 50
    # Stream positions are given at commit: both streams saw the messages in history's order.
    assert created_ids(await sync_all(alice, since_alice)) == oldest_first
    assert created_ids(await sync_all(bob, since_bob)) == oldest_first
    assert [m["id"] for m in reversed(await full_history(bob, alice.id))] == oldest_first


# Editing


async def test_sender_edits_a_message(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """The sender's PATCH answers 200 with the new content and edited_at; the rest is kept."""
    alice, bob = await friends(users)
    original = await send(alice, bob, "helo", client_id="typo")
    clock.advance(seconds=30)

    response = await edit(alice, original["id"], "hello")

    assert response.status_code == 200, response.text
    edited = response.json()["message"]
    assert set(edited) >= MESSAGE_KEYS
    assert edited["content"] == "hello"
    assert parse_utc(edited["edited_at"]) == clock.now()
    assert edited["deleted_at"] is None
    unchanged = ("id", "sender_id", "recipient_id", "created_at", "client_id")
    assert {k: edited[k] for k in unchanged} == {k: original[k] for k in unchanged}


async def test_an_edit_shows_in_history_for_both(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """After an edit both sides read the new content and edited_at at the same place."""
    alice, bob = await friends(users)
    before, target, after = await send_each(alice, bob, 3)
    clock.advance(seconds=1)
    edited = (await edit(alice, target["id"], "edited")).json()["message"]

    for user, peer in ((alice, bob), (bob, alice)):
        assert await full_history(user, peer.id) == [after, edited, before]


async def test_the_recipient_cannot_edit_403(server: RunningServer, users: UserFactory) -> None:
    """The recipient's PATCH is 403 and the message is unchanged."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "mine")

    assert_error(await edit(bob, message["id"], "yours now"), 403)
    assert await only_message(alice, bob) == message


async def test_a_third_user_cannot_edit_404(server: RunningServer, users: UserFactory) -> None:
    """Someone outside the conversation gets 404, as if the message did not exist."""
    alice, bob = await friends(users)
    mallory = await users.register()
    await befriend(alice, mallory)
    message = await send(alice, bob, "private")

    assert_error(await edit(mallory, message["id"], "hijacked"), 404)
    assert await only_message(alice, bob) == message


async def test_editing_an_unknown_message_is_404(server: RunningServer, users: UserFactory) -> None:
    """PATCH of an id that names no message (or is malformed) is 404."""
    alice = await users.register()

    responses = {name: await edit(alice, i, "anything") for name, i in NO_SUCH_MESSAGE.items()}

    assert_errors(responses, 404)


async def test_an_edit_with_invalid_content_is_refused(
    server: RunningServer, users: UserFactory
) -> None:
    """Edits follow the content rules: too long is 413, blank or wrong type is 422."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "keep me")
    too_long = {"ascii": "x" * 4001, "emoji": "😀" * 4001}
    invalid: dict[str, Any] = {"empty": "", "blank": "  \n ", "nul": "a\x00b", "number": 42}
    invalid["null"] = None

    assert_errors({n: await edit(alice, message["id"], c) for n, c in too_long.items()}, 413)
    assert_errors({n: await edit(alice, message["id"], c) for n, c in invalid.items()}, 422)
    assert await only_message(bob, alice) == message


async def test_an_edit_may_use_exactly_4000_emoji(
    server: RunningServer, users: UserFactory
) -> None:
    """An edit to exactly 4,000 astral code points is accepted and stored exactly."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "short")

    response = await edit(alice, message["id"], "🎉" * 4000)

    assert response.status_code == 200, response.text
    assert (await only_message(bob, alice))["content"] == "🎉" * 4000


async def test_editing_a_deleted_message_is_refused(
    server: RunningServer, users: UserFactory
) -> None:
    """A tombstone cannot be brought back by an edit: 4xx, and it stays empty."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "regret")
    assert (await delete(alice, message["id"])).status_code == 204

    response = await edit(alice, message["id"], "resurrected")

    assert 400 <= response.status_code < 500, response.text
    assert_error(response, response.status_code)
    stored = await only_message(bob, alice)
    assert stored["content"] == ""
    assert stored["deleted_at"] is not None


async def test_a_blocked_user_cannot_edit_what_the_blocker_reads(
    server: RunningServer, users: UserFactory
) -> None:
    """After a block, the blocked sender's edit is refused and reaches nothing of the blocker."""
    alice, bob = await friends(users)
    message = await send(bob, alice, "harmless")
    await block(alice, bob)
    since = await fresh_cursor(alice)

    response = await edit(bob, message["id"], "something hurtful")

    assert response.status_code in (403, 404), response.text
    assert_error(response, response.status_code)
    assert await only_message(alice, bob) == message
    assert of_type(await sync_all(alice, since), "message.updated") == []


async def test_an_edit_racing_a_delete_never_revives_the_tombstone(
    server: RunningServer, users: UserFactory
) -> None:
    """An edit racing a delete ends as an empty tombstone, in storage and in the stream."""
    alice, bob = await friends(users)
    sent = await send_each(alice, bob, 20)
    since = await fresh_cursor(bob)

    outcomes = await asyncio.gather(
        *(
            request
            for message in sent
            for request in (edit(alice, message["id"], "edited"), delete(alice, message["id"]))
        )
    )

    assert all(r.status_code < 500 for r in outcomes), [r.text for r in outcomes]
    history = await full_history(bob, alice.id)
    revived = [m for m in history if m["content"] != ""]
    assert revived == [], f"{len(revived)} deleted messages have content again"
    assert all(m["deleted_at"] is not None for m in history)
    last_event = {
        e["data"]["message"]["id"]: e["data"]["message"]
        for e in of_type(await sync_all(bob, since), "message.updated", "message.deleted")
    }
    assert last_event == {m["id"]: m for m in history}


async def test_concurrent_edits_end_as_the_last_one_announced(
    server: RunningServer, users: UserFactory
) -> None:
    """Edits of one message at once: storage keeps the edit whose event the stream shows last."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "v0")
    since = await fresh_cursor(bob)

    responses = await asyncio.gather(*(edit(alice, message["id"], f"v{n}") for n in range(1, 9)))

    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    updates = of_type(await sync_all(bob, since), "message.updated")
    assert len(updates) == 8
    assert await only_message(bob, alice) == updates[-1]["data"]["message"]


async def test_editing_unauthenticated_is_401(
    server: RunningServer, users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """PATCH without a token is 401 and changes nothing."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "untouched")

    assert_error(await anon.patch(f"/messages/{message['id']}", json={"content": "x"}), 401)
    assert await only_message(bob, alice) == message


# Deleting


async def test_sender_deletes_a_message_leaving_a_tombstone_for_both(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """DELETE by the sender is 204; both sides keep a tombstone: empty content, deleted_at set."""
    alice, bob = await friends(users)
    before, target, after = await send_each(alice, bob, 3)
    clock.advance(seconds=10)

    response = await delete(alice, target["id"])

    assert response.status_code == 204, response.text
    assert response.content == b""
    for user, peer in ((alice, bob), (bob, alice)):
        newer, tombstone, older = await full_history(user, peer.id)
        assert (newer, older) == (after, before)
        assert tombstone["id"] == target["id"]
        assert tombstone["content"] == ""
        assert parse_utc(tombstone["deleted_at"]) == clock.now()
        assert tombstone["created_at"] == target["created_at"]


async def test_the_recipient_cannot_delete_403(server: RunningServer, users: UserFactory) -> None:
    """The recipient's DELETE is 403 and the message stays for both."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "stays")

    assert_error(await delete(bob, message["id"]), 403)
    assert await only_message(bob, alice) == message


async def test_a_third_user_cannot_delete_404(server: RunningServer, users: UserFactory) -> None:
    """Someone outside the conversation gets 404 and the message stays."""
    alice, bob = await friends(users)
    mallory = await users.register()
    message = await send(alice, bob, "stays")

    assert_error(await delete(mallory, message["id"]), 404)
    assert await only_message(bob, alice) == message


async def test_deleting_an_unknown_message_is_404(
    server: RunningServer, users: UserFactory
) -> None:
    """DELETE of an id that names no message (or is malformed) is 404."""
    alice = await users.register()

    responses = {name: await delete(alice, i) for name, i in NO_SUCH_MESSAGE.items()}

    assert_errors(responses, 404)


async def test_deleting_twice_changes_nothing_more(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """A second DELETE is 204 or 404 (never 5xx), keeps the tombstone and emits no event."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "gone")
    since_alice, since_bob = await fresh_cursor(alice), await fresh_cursor(bob)
    assert (await delete(alice, message["id"])).status_code == 204
    tombstone = await only_message(bob, alice)
    clock.advance(seconds=10)

    again = await delete(alice, message["id"])

    assert again.status_code in (204, 404), again.text
    assert await only_message(bob, alice) == tombstone
    for user, since in ((alice, since_alice), (bob, since_bob)):
        deleted = of_type(await sync_all(user, since), "message.deleted")
        assert [e["data"]["message"] for e in deleted] == [tombstone]


async def test_deleting_unauthenticated_is_401(
    server: RunningServer, users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """DELETE without a token is 401 and the message stays."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "stays")

    assert_error(await anon.delete(f"/messages/{message['id']}"), 401)
    assert await only_message(bob, alice) == message
