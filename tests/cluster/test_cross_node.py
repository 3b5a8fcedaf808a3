"""Two nodes, one database, one Redis: whatever happens on one node reaches the sockets on
the other, live. Alice signs in through node A, Bob through node B, unless said otherwise."""

from typing import cast

import pytest

from gkchat.client import APIError, FriendRequest
from tests.support.cluster import Accounts, events_until, of_type
from tests.support.process import ServerProcess
from tests.support.sdk import next_event, user_id


async def test_a_message_reaches_the_recipient_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """message.created sent through node A arrives on Bob's socket on node B."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    async with bob.connect() as socket:
        sent = await alice.send_message(user_id(bob), "hello from node A")

        event = await next_event(socket, of_type("message.created", id=sent["id"]))

    assert event.data["message"] == sent


async def test_an_edit_reaches_the_recipient_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """message.updated arrives on the other node with the new content."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    sent = await alice.send_message(user_id(bob), "first words")
    async with bob.connect() as socket:
        await alice.edit_message(sent["id"], "better words")

        event = await next_event(socket, of_type("message.updated", id=sent["id"]))

    assert event.data["message"]["content"] == "better words"


async def test_a_delete_reaches_the_recipient_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """message.deleted arrives on the other node as a tombstone."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    sent = await alice.send_message(user_id(bob), "regrettable")
    async with bob.connect() as socket:
        await alice.delete_message(sent["id"])

        event = await next_event(socket, of_type("message.deleted", id=sent["id"]))

    assert event.data["message"]["content"] == ""


async def test_a_read_receipt_reaches_the_sender_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """Bob reading through node B sends receipt.read to Alice's socket on node A."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    sent = await alice.send_message(user_id(bob), "read me")
    async with alice.connect() as socket:
        await bob.mark_read(user_id(alice), sent["id"])

        event = await next_event(socket, of_type("receipt.read"))

    assert event.data == {"peer_id": user_id(bob), "up_to": sent["id"], "seq": sent["seq"]}


async def test_a_delivery_receipt_reaches_the_sender_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """Bob's device saying it has the message, through node B, reaches Alice on node A."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    sent = await alice.send_message(user_id(bob), "did it arrive?")
    async with alice.connect() as socket:
        await bob.mark_delivered(user_id(alice), sent["id"])

        event = await next_event(socket, of_type("receipt.delivered"))

    assert event.data == {"peer_id": user_id(bob), "up_to": sent["id"], "seq": sent["seq"]}


async def test_typing_reaches_the_friend_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """A typing frame sent on node A's socket arrives on node B's."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    async with alice.connect() as typing_socket, bob.connect() as socket:
        await typing_socket.typing(user_id(bob))

        event = await next_event(socket, of_type("typing"))

    assert event.data == {"user_id": user_id(alice)}


async def test_a_notification_reaches_the_recipient_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """notification.created for a message arrives on the recipient's socket on node B."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    async with bob.connect() as socket:
        sent = await alice.send_message(user_id(bob), "notify me")

        event = await next_event(socket, of_type("notification.created"))

    assert event.data["notification"]["reference_id"] == sent["id"]


async def test_a_friend_request_reaches_the_recipient_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """friend_request.created arrives on the other node."""
    alice, bob = await accounts.register(nodes[0]), await accounts.register(nodes[1])
    async with bob.connect() as socket:
        request = cast(FriendRequest, await alice.send_friend_request(user_id(bob)))

        event = await next_event(socket, of_type("friend_request.created"))

    assert event.data["request"]["id"] == request["id"]


async def test_an_accepted_request_reaches_the_requester_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """friend_request.accepted arrives on the requester's socket on the other node."""
    alice, bob = await accounts.register(nodes[0]), await accounts.register(nodes[1])
    request = cast(FriendRequest, await alice.send_friend_request(user_id(bob)))
    async with alice.connect() as socket:
        await bob.accept_friend_request(request["id"])

        event = await next_event(socket, of_type("friend_request.accepted"))

    assert event.data["request_id"] == request["id"]


async def test_coming_online_is_announced_to_friends_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """Alice connecting to node A tells Bob, on node B, that she is online."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    async with bob.connect() as socket:
        # The snapshot on connecting says she is offline; then she comes.
        await next_event(socket, of_type("presence", user_id=user_id(alice), online=False))
        async with alice.connect():
            event = await next_event(socket, of_type("presence", user_id=user_id(alice)))

    assert event.data["online"] is True


async def test_going_offline_is_announced_to_friends_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """Alice's last socket closing on node A tells Bob, on node B, that she is offline."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    async with bob.connect() as socket:
        async with alice.connect():
            await next_event(socket, of_type("presence", user_id=user_id(alice), online=True))

        event = await next_event(socket, of_type("presence", user_id=user_id(alice)))

    assert event.data["online"] is False


async def test_the_presence_snapshot_counts_sockets_on_every_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """Connecting to node B, Bob learns that Alice, connected to node A, is online."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    async with alice.connect(), bob.connect() as socket:
        event = await next_event(socket, of_type("presence", user_id=user_id(alice)))

    assert event.data["online"] is True


async def test_a_user_stays_online_while_a_socket_on_any_node_is_open(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """Closing one of two sockets on two nodes is no offline; closing the last one is, once.

    Messages mark the points in Bob's stream. A presence change and a message come from
    different nodes with no order between them, so the offline is awaited, not expected
    before a message sent after the close.
    """
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    alice_on_b = accounts.via(nodes[1], alice)
    went_offline = of_type("presence", user_id=user_id(alice), online=False)
    async with bob.connect() as socket:
        async with alice_on_b.connect():
            await next_event(socket, of_type("presence", user_id=user_id(alice), online=True))
            async with alice.connect():
                pass
            still_on_b = await alice.send_message(user_id(bob), "one socket closed, one open")
            seen = await events_until(socket, of_type("message.created", id=still_on_b["id"]))
            assert not [e for e in seen if went_offline(e)]

        await next_event(socket, went_offline)
        later = await alice.send_message(user_id(bob), "both sockets closed")
        seen = await events_until(socket, of_type("message.created", id=later["id"]))

    assert not [e for e in seen if went_offline(e)]


async def test_every_session_on_every_node_gets_the_users_events(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """Alice's devices on both nodes get Bob's message, and her own sends too."""
    alice, bob = await accounts.friends(nodes[0], nodes[1])
    alice_on_b = await accounts.sign_in(nodes[1], alice)
    async with alice.connect() as on_a, alice_on_b.connect() as on_b:
        received = await bob.send_message(user_id(alice), "to all of Alice")
        own = await on_a.send_message(user_id(bob), "from Alice on node A")

        for socket in (on_a, on_b):
            for message in (received, own):
                await next_event(socket, of_type("message.created", id=message["id"]))


async def test_revoking_a_session_closes_its_socket_on_the_other_node(
    accounts: Accounts, nodes: list[ServerProcess]
) -> None:
    """A session revoked through node A has its socket on node B closed with 4401."""
    bob = await accounts.register(nodes[1])
    [session] = await bob.sessions()
    other_device = await accounts.sign_in(nodes[0], bob)
    async with bob.connect() as socket:
        await other_device.revoke_session(session["id"])

        with pytest.raises(APIError) as closed:
            await next_event(socket, lambda _: False)

    assert closed.value.status == 401
