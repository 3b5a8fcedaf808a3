"""Message positions and delivery receipts: `seq`, POST .../delivered, the peer's positions."""

import httpx

from tests.support.api_errors import assert_error
from tests.support.factories import UserFactory
from tests.support.messaging import (
    UNKNOWN_ID,
    assert_errors,
    conversation_with,
    fresh_cursor,
    friends,
    mark_delivered,
    mark_read,
    of_type,
    send,
    send_each,
    sync_all,
)
from tests.support.server import RunningServer


async def test_messages_carry_increasing_positions(
    server: RunningServer, users: UserFactory
) -> None:
    """Each message has a `seq`; later messages in a conversation have larger ones."""
    alice, bob = await friends(users)

    sent = [await send(alice, bob, "one"), await send(bob, alice, "two")]
    sent.append(await send(alice, bob, "three"))

    seqs = [message["seq"] for message in sent]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3


async def test_delivered_tells_the_sender_once_per_advance(
    server: RunningServer, users: UserFactory
) -> None:
    """The sender gets receipt.delivered {peer_id, up_to, seq} when the position moves on."""
    alice, bob = await friends(users)
    sent = await send_each(alice, bob, 3)
    since = await fresh_cursor(alice)

    for up_to in (sent[1], sent[1], sent[0]):
        assert (await mark_delivered(bob, alice.id, up_to["id"])).status_code == 204

    receipts = of_type(await sync_all(alice, since), "receipt.delivered")
    expected = {"peer_id": bob.id, "up_to": sent[1]["id"], "seq": sent[1]["seq"]}
    assert [e["data"] for e in receipts] == [expected]


async def test_conversations_show_how_far_the_peer_has_received_and_read(
    server: RunningServer, users: UserFactory
) -> None:
    """The sender's conversation entry carries the peer's delivered and read positions."""
    alice, bob = await friends(users)
    sent = await send_each(alice, bob, 3)

    before = await conversation_with(alice, bob)
    await mark_delivered(bob, alice.id, sent[2]["id"])
    await mark_read(bob, alice.id, sent[0]["id"])
    after = await conversation_with(alice, bob)

    assert (before["peer_delivered_seq"], before["peer_read_seq"]) == (0, 0)
    assert (after["peer_delivered_seq"], after["peer_read_seq"]) == (sent[2]["seq"], sent[0]["seq"])


async def test_reading_counts_as_received(server: RunningServer, users: UserFactory) -> None:
    """A read moves the delivered position too, so 'read' never shows as 'not delivered'."""
    alice, bob = await friends(users)
    sent = await send_each(alice, bob, 2)

    await mark_read(bob, alice.id, sent[1]["id"])

    entry = await conversation_with(alice, bob)
    assert entry["peer_delivered_seq"] == entry["peer_read_seq"] == sent[1]["seq"]


async def test_delivered_never_reaches_a_third_user(
    server: RunningServer, users: UserFactory
) -> None:
    """Only the other side of the conversation hears about delivery."""
    alice, bob = await friends(users)
    carol = await users.register()
    message = await send(alice, bob, "hi")
    since_bob, since_carol = await fresh_cursor(bob), await fresh_cursor(carol)

    await mark_delivered(bob, alice.id, message["id"])

    assert of_type(await sync_all(bob, since_bob), "receipt.delivered") == []
    assert of_type(await sync_all(carol, since_carol), "receipt.delivered") == []


async def test_after_a_block_delivery_is_not_told(
    server: RunningServer, users: UserFactory
) -> None:
    """Across a block, delivery is still recorded (204) but the peer learns nothing."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "before the block")
    assert (await bob.client.post("/blocks", json={"user_id": alice.id})).status_code == 204
    since = await fresh_cursor(alice)

    assert (await mark_delivered(bob, alice.id, message["id"])).status_code == 204

    assert of_type(await sync_all(alice, since), "receipt.delivered") == []


async def test_delivered_refuses_what_is_not_in_the_conversation(
    server: RunningServer, users: UserFactory
) -> None:
    """An unknown, malformed or other conversation's message id is 404."""
    alice, bob = await friends(users)
    carol = await users.register()
    elsewhere = await send(alice, bob, "not carol's")

    assert_errors(
        {
            "unknown message": await mark_delivered(bob, alice.id, UNKNOWN_ID),
            "malformed message": await mark_delivered(bob, alice.id, "x" * 300),
            "another conversation": await mark_delivered(carol, alice.id, elsewhere["id"]),
            "unknown peer": await mark_delivered(bob, UNKNOWN_ID, elsewhere["id"]),
        },
        404,
    )


async def test_delivered_needs_a_body_and_a_session(
    server: RunningServer, users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """Missing up_to is 422; no token is 401."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "hi")

    missing = await bob.client.post(f"/conversations/{alice.id}/delivered", json={})
    anonymous = await anon.post(
        f"/conversations/{alice.id}/delivered", json={"up_to": message["id"]}
    )

    assert_error(missing, 422)
    assert_error(anonymous, 401)
