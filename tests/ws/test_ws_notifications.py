"""Notifications in real time: pushed live to every session of their user, and only theirs.

The contract's "Real time" (``notification.created``) and issue 5: each new notification is
pushed to every connected session of the user and is part of the ``/sync`` stream, so a user
who was offline finds it after reconnecting.
"""

from tests.support.factories import UserFactory, send_friend_request
from tests.support.messaging import fresh_cursor
from tests.support.notifications import (
    notification_events,
    notifications,
    read_notification,
    the_only,
)
from tests.support.server import RunningServer
from tests.support.ws import befriended, open_ws, send_rest, sync_all, wait_for_connections


async def test_a_new_notification_is_pushed_live(server: RunningServer, users: UserFactory) -> None:
    """A connected recipient gets notification.created with the notification, and a cursor."""
    alice, bob = await befriended(users)
    async with open_ws(server, bob.token) as ws:
        await wait_for_connections(server, bob.id, 1)
        message = await send_rest(alice, bob.id, "hello")
        frame = await ws.recv_until("notification.created")
    assert frame["data"]["notification"]["reference_id"] == message["id"]
    assert frame["data"]["notification"] == await the_only(bob, "message")
    assert isinstance(frame["cursor"], str)


async def test_every_session_of_the_recipient_gets_the_notification(
    server: RunningServer, users: UserFactory
) -> None:
    """Two sockets of the recipient both get the same notification.created."""
    alice, bob = await users.register(), await users.register()
    second_token = await users.login(bob.username)
    async with open_ws(server, bob.token) as first, open_ws(server, second_token) as second:
        await wait_for_connections(server, bob.id, 2)
        request = await send_friend_request(alice, bob)
        frames = [
            await first.recv_until("notification.created"),
            await second.recv_until("notification.created"),
        ]
    for frame in frames:
        assert frame["data"]["notification"]["type"] == "friend_request"
        assert frame["data"]["notification"]["reference_id"] == request["id"]
    assert frames[0]["data"] == frames[1]["data"]


async def test_a_growing_burst_is_pushed_as_notification_updated(
    server: RunningServer, users: UserFactory
) -> None:
    """The second message of a burst updates the live notification's count."""
    alice, bob = await befriended(users)
    async with open_ws(server, bob.token) as ws:
        await wait_for_connections(server, bob.id, 1)
        await send_rest(alice, bob.id, "one")
        created = await ws.recv_until("notification.created")
        second = await send_rest(alice, bob.id, "two")
        updated = await ws.recv_until("notification.updated")
    assert updated["data"]["notification"]["id"] == created["data"]["notification"]["id"]
    assert updated["data"]["notification"]["count"] == 2
    assert updated["data"]["notification"]["reference_id"] == second["id"]


async def test_reading_a_notification_is_pushed_live(
    server: RunningServer, users: UserFactory
) -> None:
    """Marking a notification read pushes notification.read with its id to the user."""
    alice, bob = await befriended(users)
    await send_rest(alice, bob.id, "hello")
    notification = await the_only(bob, "message")
    async with open_ws(server, bob.token) as ws:
        await wait_for_connections(server, bob.id, 1)
        assert (await read_notification(bob, notification["id"])).status_code == 204
        frame = await ws.recv_until("notification.read")
    assert frame["data"] == {"ids": [notification["id"]], "all": False}


async def test_nobody_gets_another_users_notifications_live(
    server: RunningServer, users: UserFactory
) -> None:
    """The sender's socket gets the message but none of the recipient's notifications."""
    alice, bob = await befriended(users)
    async with open_ws(server, alice.token) as ws:
        await wait_for_connections(server, alice.id, 1)
        await send_rest(alice, bob.id, "hello")
        await send_rest(alice, bob.id, "again")
        assert (await read_notification(bob, (await the_only(bob, "message"))["id"])).is_success
        frames = await ws.ping()
    assert [f["type"] for f in frames if f["type"] == "message.created"] == [
        "message.created",
        "message.created",
    ]
    assert [f for f in frames if f["type"].startswith("notification.")] == []


async def test_an_offline_user_finds_notifications_after_reconnecting(
    server: RunningServer, users: UserFactory
) -> None:
    """Notifications made while the user had no socket are listed and are in /sync."""
    alice, bob = await befriended(users)
    cursor = await fresh_cursor(bob)
    message = await send_rest(alice, bob.id, "while you were away")
    listed = [n for n in await notifications(bob) if n["type"] == "message"]
    assert [n["reference_id"] for n in listed] == [message["id"]]
    events, _ = await sync_all(bob, cursor)
    created = notification_events(events)
    assert [(e["type"], e["data"]["notification"]) for e in created] == [
        ("notification.created", listed[0])
    ]


async def test_notifications_are_stored_for_an_online_user_too(
    server: RunningServer, users: UserFactory
) -> None:
    """Being connected does not stop the notification from being stored and listed."""
    alice, bob = await befriended(users)
    async with open_ws(server, bob.token) as ws:
        await wait_for_connections(server, bob.id, 1)
        message = await send_rest(alice, bob.id, "you are here")
        await ws.recv_until("notification.created")
    assert (await the_only(bob, "message"))["reference_id"] == message["id"]


async def test_a_reconnecting_socket_gets_missed_notifications(
    server: RunningServer, users: UserFactory
) -> None:
    """A socket opened with since=<cursor> replays the notification.created it missed."""
    alice, bob = await befriended(users)
    cursor = await fresh_cursor(bob)
    message = await send_rest(alice, bob.id, "missed")
    async with open_ws(server, bob.token, since=cursor) as ws:
        frame = await ws.recv_until("notification.created")
    assert frame["data"]["notification"]["reference_id"] == message["id"]
