"""Notifications: stored for friend requests and messages, collapsed, muted, listed, read, pruned.

The contract's "Notifications" (and issue 5): the service layer creates them in the same
transaction as what they describe; a burst of messages from one friend is one unread
notification; reading the conversation reads its message notifications; a muted conversation
makes none; a user never sees or marks another's; old read ones are pruned.
"""

import asyncio
import dataclasses
from datetime import timedelta

import httpx
import pytest

from gkchat.services import maintenance
from tests.conftest import ServerStarter
from tests.support.api_errors import assert_error
from tests.support.clock import FakeClock
from tests.support.factories import SignedInUser, UserFactory, befriend, send_friend_request
from tests.support.messaging import (
    UNKNOWN_ID,
    Json,
    assert_errors,
    conversation_with,
    fresh_cursor,
    friends,
    full_history,
    mark_read,
    post_message,
    send,
    send_each,
    sync_all,
)
from tests.support.notifications import (
    NOTIFICATION_KEYS,
    all_pages,
    mute,
    notification_events,
    notifications,
    notifications_page,
    of_kind,
    read_all,
    read_notification,
    the_only,
    unmute,
    unread_count,
)
from tests.support.server import RunningServer
from tests.support.times import parse_utc

BURST = 50


async def newest_message_id(user: SignedInUser, peer: SignedInUser) -> str:
    newest: str = (await full_history(user, peer.id))[0]["id"]
    return newest


# Friend requests


async def test_a_friend_request_notifies_the_recipient(users: UserFactory) -> None:
    """The recipient gets an unread friend_request notification about the request."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    notification = await the_only(bob, "friend_request")
    assert set(notification) == NOTIFICATION_KEYS, notification
    assert notification["reference_id"] == request["id"]
    assert alice.username in notification["content"]
    assert notification["read_at"] is None
    parse_utc(notification["created_at"])


async def test_the_sender_of_a_friend_request_is_not_notified(users: UserFactory) -> None:
    """Asking someone to be friends notifies only them."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)
    assert await notifications(alice) == []


async def test_accepting_notifies_the_requester(users: UserFactory) -> None:
    """The requester gets an unread friend_accepted notification about the accepted request."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    response = await bob.client.post(f"/friend-requests/{request['id']}/accept")
    assert response.status_code == 200, response.text
    notification = await the_only(alice, "friend_accepted")
    assert notification["reference_id"] == request["id"]
    assert bob.username in notification["content"]
    assert notification["read_at"] is None


async def test_accepting_reads_the_friend_request_notification(users: UserFactory) -> None:
    """Once accepted, the recipient's friend_request notification is read."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    response = await bob.client.post(f"/friend-requests/{request['id']}/accept")
    assert response.status_code == 200, response.text
    notification = await the_only(bob, "friend_request")
    parse_utc(notification["read_at"])
    assert await unread_count(bob) == 0


async def test_asking_back_counts_as_accepting(users: UserFactory) -> None:
    """Asking someone who already asked you notifies them of an accept and reads your request."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    response = await bob.client.post("/friend-requests", json={"user_id": alice.id})
    assert response.status_code in (200, 201), response.text
    accepted = await the_only(alice, "friend_accepted")
    assert accepted["reference_id"] == request["id"]
    assert await of_kind(alice, "friend_request") == []
    assert await unread_count(bob) == 0


async def test_declining_reads_the_friend_request_notification(users: UserFactory) -> None:
    """Once declined, the recipient's friend_request notification is read."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    response = await bob.client.post(f"/friend-requests/{request['id']}/decline")
    assert response.status_code == 204, response.text
    parse_utc((await the_only(bob, "friend_request"))["read_at"])
    assert await unread_count(bob) == 0


async def test_cancelling_reads_the_friend_request_notification(users: UserFactory) -> None:
    """Once the sender cancels, the recipient's friend_request notification is read."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    response = await alice.client.delete(f"/friend-requests/{request['id']}")
    assert response.status_code == 204, response.text
    parse_utc((await the_only(bob, "friend_request"))["read_at"])
    assert await unread_count(bob) == 0


# Messages


async def test_a_message_notifies_the_recipient(users: UserFactory) -> None:
    """A message gives its recipient an unread message notification about it."""
    alice, bob = await friends(users)
    message = await send(alice, bob, "hi bob")
    notification = await the_only(bob, "message")
    assert notification["reference_id"] == message["id"]
    assert alice.username in notification["content"]
    assert notification["read_at"] is None
    assert notification["count"] == 1


async def test_the_sender_of_a_message_is_not_notified(users: UserFactory) -> None:
    """Sending a message never notifies the sender."""
    alice, bob = await friends(users)
    await send_each(alice, bob, 3)
    assert await of_kind(alice, "message") == []


async def test_a_burst_of_messages_is_one_notification(users: UserFactory) -> None:
    """50 messages in a row from one friend are one unread notification that says 50."""
    alice, bob = await friends(users)
    sent = await send_each(alice, bob, BURST)
    unread = await of_kind(bob, "message", unread=True)
    assert len(unread) == 1, unread
    assert unread[0]["count"] == BURST
    assert f"{BURST} messages" in unread[0]["content"]
    assert unread[0]["reference_id"] == sent[-1]["id"]


async def test_a_concurrent_burst_of_messages_is_one_notification(users: UserFactory) -> None:
    """50 messages sent at once from one friend are one unread notification that says 50."""
    alice, bob = await friends(users)
    await asyncio.gather(*(send(alice, bob, f"at once {n}") for n in range(BURST)))
    unread = await of_kind(bob, "message", unread=True)
    assert len(unread) == 1, unread
    assert unread[0]["count"] == BURST
    assert f"{BURST} messages" in unread[0]["content"]
    assert unread[0]["reference_id"] == await newest_message_id(bob, alice)


async def test_a_message_after_the_notification_is_read_starts_a_new_one(
    users: UserFactory,
) -> None:
    """Reading the burst's notification ends it: the next message makes a new one."""
    alice, bob = await friends(users)
    await send_each(alice, bob, 3)
    first = await the_only(bob, "message")
    assert (await read_notification(bob, first["id"])).status_code == 204
    latest = await send(alice, bob, "one more")
    found = await of_kind(bob, "message")
    assert len(found) == 2, found
    fresh = next(n for n in found if n["id"] != first["id"])
    assert fresh["read_at"] is None
    assert fresh["count"] == 1
    assert fresh["reference_id"] == latest["id"]


async def test_two_senders_make_two_notifications(users: UserFactory) -> None:
    """Bursts from different friends are not collapsed together."""
    alice, bob = await friends(users)
    carol = await users.register()
    await befriend(carol, bob)
    await send_each(alice, bob, 2)
    await send_each(carol, bob, 3)
    found = await of_kind(bob, "message", unread=True)
    assert sorted((n["actor_id"], n["count"]) for n in found) == sorted(
        [(alice.id, 2), (carol.id, 3)]
    )


async def test_reading_the_conversation_reads_its_message_notifications(
    users: UserFactory,
) -> None:
    """POST /conversations/{peer}/read marks that sender's message notification read."""
    alice, bob = await friends(users)
    sent = await send_each(alice, bob, 3)
    assert (await mark_read(bob, alice.id, sent[-1]["id"])).status_code == 204
    assert await of_kind(bob, "message", unread=True) == []
    parse_utc((await the_only(bob, "message"))["read_at"])


async def test_reading_a_conversation_leaves_other_senders_notifications_unread(
    users: UserFactory,
) -> None:
    """Reading one conversation does not read another sender's message notification."""
    alice, bob = await friends(users)
    carol = await users.register()
    await befriend(carol, bob)
    from_alice = await send(alice, bob, "from alice")
    await send(carol, bob, "from carol")
    assert (await mark_read(bob, alice.id, from_alice["id"])).status_code == 204
    unread = await of_kind(bob, "message", unread=True)
    assert [n["actor_id"] for n in unread] == [carol.id]


# Mute


async def test_a_muted_friend_makes_no_message_notification(users: UserFactory) -> None:
    """After PUT /conversations/{peer}/mute (204), that peer's messages notify nothing."""
    alice, bob = await friends(users)
    assert (await mute(bob, alice.id)).status_code == 204
    await send_each(alice, bob, 3)
    assert await of_kind(bob, "message") == []


async def test_messages_from_a_muted_friend_still_arrive(users: UserFactory) -> None:
    """Muting silences notifications only: the messages are in the history."""
    alice, bob = await friends(users)
    assert (await mute(bob, alice.id)).status_code == 204
    sent = await send_each(alice, bob, 3)
    history = await full_history(bob, alice.id)
    assert [m["id"] for m in history] == [m["id"] for m in reversed(sent)]


async def test_conversations_show_which_are_muted(users: UserFactory) -> None:
    """GET /conversations says muted true for a muted peer and false for the others."""
    alice, bob = await friends(users)
    carol = await users.register()
    await befriend(carol, bob)
    await send(alice, bob)
    await send(carol, bob)
    assert (await mute(bob, alice.id)).status_code == 204
    assert (await conversation_with(bob, alice))["muted"] is True
    assert (await conversation_with(bob, carol))["muted"] is False


async def test_unmuting_brings_message_notifications_back(users: UserFactory) -> None:
    """After DELETE /conversations/{peer}/mute (204), that peer's messages notify again."""
    alice, bob = await friends(users)
    assert (await mute(bob, alice.id)).status_code == 204
    await send(alice, bob, "muted")
    assert (await unmute(bob, alice.id)).status_code == 204
    message = await send(alice, bob, "heard")
    assert (await the_only(bob, "message"))["reference_id"] == message["id"]
    assert (await conversation_with(bob, alice))["muted"] is False


async def test_muting_one_friend_leaves_the_others_notifying(users: UserFactory) -> None:
    """A mute is per conversation: other friends' messages still notify."""
    alice, bob = await friends(users)
    carol = await users.register()
    await befriend(carol, bob)
    assert (await mute(bob, alice.id)).status_code == 204
    await send(alice, bob)
    await send(carol, bob)
    assert [n["actor_id"] for n in await of_kind(bob, "message")] == [carol.id]


async def test_muting_yourself_is_refused(users: UserFactory) -> None:
    """You cannot mute your own conversation: 422."""
    alice = await users.register()
    assert_error(await mute(alice, alice.id), 422)
    assert_error(await unmute(alice, alice.id), 422)


async def test_muting_an_unknown_or_malformed_peer_is_not_found(users: UserFactory) -> None:
    """A peer that is no user, or no id at all, is 404 for mute and unmute."""
    alice = await users.register()
    responses = {
        "mute unknown": await mute(alice, UNKNOWN_ID),
        "mute malformed": await mute(alice, "not-an-id"),
        "unmute unknown": await unmute(alice, UNKNOWN_ID),
        "unmute malformed": await unmute(alice, "not-an-id"),
    }
    assert_errors(responses, 404)


async def test_muting_requires_authentication(users: UserFactory, anon: httpx.AsyncClient) -> None:
    """Mute and unmute without credentials are 401."""
    alice = await users.register()
    responses = {
        "mute": await anon.put(f"/conversations/{alice.id}/mute"),
        "unmute": await anon.delete(f"/conversations/{alice.id}/mute"),
    }
    assert_errors(responses, 401)


# Listing


async def test_notifications_are_listed_newest_first(users: UserFactory, clock: FakeClock) -> None:
    """GET /notifications lists the newest notification first."""
    bob = await users.register()
    senders = [await users.register() for _ in range(3)]
    requests = []
    for sender in senders:
        requests.append(await send_friend_request(sender, bob))
        clock.advance(seconds=1)
    listed = await notifications(bob)
    assert [n["reference_id"] for n in listed] == [r["id"] for r in reversed(requests)]


async def test_unread_true_lists_only_unread_notifications(users: UserFactory) -> None:
    """unread=true leaves out the notifications that were read."""
    bob = await users.register()
    alice, carol = await users.register(), await users.register()
    read_request = await send_friend_request(alice, bob)
    unread_request = await send_friend_request(carol, bob)
    read_one = next(n for n in await notifications(bob) if n["reference_id"] == read_request["id"])
    assert (await read_notification(bob, read_one["id"])).status_code == 204
    unread = await notifications(bob, unread=True)
    assert [n["reference_id"] for n in unread] == [unread_request["id"]]
    assert len(await notifications(bob)) == 2


async def test_the_list_counts_unread_notifications(users: UserFactory) -> None:
    """unread_count is the number of unread notifications, whatever the page holds."""
    bob = await users.register()
    for _ in range(3):
        await send_friend_request(await users.register(), bob)
    body = await notifications_page(bob, limit=1)
    assert len(body["notifications"]) == 1
    assert body["unread_count"] == 3


async def test_pages_visit_every_notification_exactly_once(
    users: UserFactory, clock: FakeClock
) -> None:
    """Following next_before with a small limit lists each notification once, newest first."""
    alice, bob = await friends(users)
    await read_all(bob)
    expected = []
    for _ in range(7):
        await send(alice, bob)
        await read_all(bob)  # ends the burst: the next message makes a new notification
        clock.advance(seconds=1)
        expected.append((await notifications(bob))[0]["id"])
    pages = await all_pages(bob, limit=3)
    assert [len(page) for page in pages] == [3, 3, 2]
    listed = [n["id"] for page in pages for n in page]
    assert listed[:7] == expected[::-1]
    assert listed == [n["id"] for n in await notifications(bob)]
    assert len(listed) == len(set(listed))


async def test_unread_pages_visit_every_unread_notification_exactly_once(
    users: UserFactory, clock: FakeClock
) -> None:
    """unread=true with limit and before pages through the unread ones only, each once."""
    bob = await users.register()
    unread = []
    for n in range(6):
        await send_friend_request(await users.register(), bob)
        latest = (await notifications(bob))[0]
        if n % 2:
            assert (await read_notification(bob, latest["id"])).status_code == 204
        else:
            unread.append(latest["id"])
        clock.advance(seconds=1)
    listed: list[str] = []
    before: str | None = None
    for _ in range(10):
        params: Json = {"unread": "true", "limit": 2}
        if before is not None:
            params["before"] = before
        body = await notifications_page(bob, **params)
        listed += [n["id"] for n in body["notifications"]]
        before = body["next_before"]
        if before is None:
            break
    assert listed == unread[::-1]


async def test_an_invalid_before_cursor_is_refused(users: UserFactory) -> None:
    """A before that is no cursor of this list is 422."""
    bob = await users.register()
    response = await bob.get("/notifications", params={"before": "not a cursor"})
    assert_error(response, 422)


async def test_a_zero_limit_is_refused(users: UserFactory) -> None:
    """limit=0 is 422."""
    bob = await users.register()
    assert_error(await bob.get("/notifications", params={"limit": 0}), 422)


async def test_notifications_require_authentication(anon: httpx.AsyncClient) -> None:
    """Listing and reading notifications without credentials are 401."""
    responses = {
        "list": await anon.get("/notifications"),
        "read one": await anon.post(f"/notifications/{UNKNOWN_ID}/read"),
        "read all": await anon.post("/notifications/read-all"),
    }
    assert_errors(responses, 401)


# Marking read


async def test_reading_a_notification_lowers_the_unread_count(users: UserFactory) -> None:
    """POST /notifications/{id}/read answers 204, sets read_at and lowers unread_count."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)
    notification = await the_only(bob, "friend_request")
    assert await unread_count(bob) == 1
    response = await read_notification(bob, notification["id"])
    assert response.status_code == 204, response.text
    assert await unread_count(bob) == 0
    parse_utc((await the_only(bob, "friend_request"))["read_at"])


async def test_reading_another_users_notification_is_not_found(users: UserFactory) -> None:
    """Someone else's notification id is 404, and it stays unread for its owner."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)
    notification = await the_only(bob, "friend_request")
    assert_error(await read_notification(alice, notification["id"]), 404)
    assert (await the_only(bob, "friend_request"))["read_at"] is None
    assert await unread_count(bob) == 1


async def test_reading_an_unknown_or_malformed_notification_is_not_found(
    users: UserFactory,
) -> None:
    """An id that names no notification, or is no id, is 404."""
    bob = await users.register()
    responses = {
        "unknown": await read_notification(bob, UNKNOWN_ID),
        "malformed": await read_notification(bob, "not-an-id"),
    }
    assert_errors(responses, 404)


async def test_reading_a_notification_twice_is_fine(users: UserFactory, clock: FakeClock) -> None:
    """Reading an already read notification answers 204 and keeps its first read_at."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)
    notification = await the_only(bob, "friend_request")
    assert (await read_notification(bob, notification["id"])).status_code == 204
    first_read = (await the_only(bob, "friend_request"))["read_at"]
    clock.advance(minutes=5)
    response = await read_notification(bob, notification["id"])
    assert response.status_code == 204, response.text
    assert (await the_only(bob, "friend_request"))["read_at"] == first_read


async def test_read_all_reads_every_notification(users: UserFactory) -> None:
    """POST /notifications/read-all answers 204 and leaves nothing unread."""
    alice, bob = await friends(users)
    carol = await users.register()
    await send_friend_request(carol, bob)
    await send_each(alice, bob, 3)
    assert await unread_count(bob) > 0
    await read_all(bob)
    assert await unread_count(bob) == 0
    assert await notifications(bob, unread=True) == []


async def test_read_all_leaves_other_users_unread(users: UserFactory) -> None:
    """Reading all your notifications does not touch anyone else's."""
    alice, bob = await friends(users)
    await send(bob, alice)
    await read_all(bob)
    assert len(await of_kind(alice, "message", unread=True)) == 1


# The /sync stream


async def test_a_new_notification_is_in_the_sync_stream(users: UserFactory) -> None:
    """notification.created carries the notification as it is listed."""
    alice, bob = await friends(users)
    cursor = await fresh_cursor(bob)
    await send(alice, bob)
    events = notification_events(await sync_all(bob, cursor))
    assert [e["type"] for e in events] == ["notification.created"]
    assert events[0]["data"]["notification"] == await the_only(bob, "message")


async def test_a_growing_burst_is_notification_updated_in_the_sync_stream(
    users: UserFactory,
) -> None:
    """Each message collapsed into an unread notification is a notification.updated."""
    alice, bob = await friends(users)
    cursor = await fresh_cursor(bob)
    await send_each(alice, bob, 3)
    events = notification_events(await sync_all(bob, cursor))
    assert [e["type"] for e in events] == [
        "notification.created",
        "notification.updated",
        "notification.updated",
    ]
    assert [e["data"]["notification"]["count"] for e in events] == [1, 2, 3]
    assert len({e["data"]["notification"]["id"] for e in events}) == 1
    assert events[-1]["data"]["notification"] == await the_only(bob, "message")


async def test_reading_a_notification_is_in_the_sync_stream(users: UserFactory) -> None:
    """notification.read names the ids read, with all false."""
    alice, bob = await friends(users)
    await send(alice, bob)
    notification = await the_only(bob, "message")
    cursor = await fresh_cursor(bob)
    assert (await read_notification(bob, notification["id"])).status_code == 204
    events = notification_events(await sync_all(bob, cursor))
    assert events == [
        {
            "type": "notification.read",
            "data": {"ids": [notification["id"]], "all": False},
            "cursor": events[0]["cursor"],
        }
    ]


async def test_read_all_is_in_the_sync_stream(users: UserFactory) -> None:
    """notification.read after read-all names every id read, with all true."""
    alice, bob = await friends(users)
    carol = await users.register()
    await send_friend_request(carol, bob)
    await send(alice, bob)
    unread = {n["id"] for n in await notifications(bob, unread=True)}
    cursor = await fresh_cursor(bob)
    await read_all(bob)
    events = notification_events(await sync_all(bob, cursor))
    assert [e["type"] for e in events] == ["notification.read"]
    assert set(events[0]["data"]["ids"]) == unread
    assert events[0]["data"]["all"] is True


async def test_reading_the_conversation_is_notification_read_in_the_sync_stream(
    users: UserFactory,
) -> None:
    """Reading a conversation announces its message notifications as read."""
    alice, bob = await friends(users)
    message = await send(alice, bob)
    notification = await the_only(bob, "message")
    cursor = await fresh_cursor(bob)
    assert (await mark_read(bob, alice.id, message["id"])).status_code == 204
    events = notification_events(await sync_all(bob, cursor))
    assert [(e["type"], e["data"]) for e in events] == [
        ("notification.read", {"ids": [notification["id"]], "all": False})
    ]


async def test_nobody_sees_another_users_notifications_in_sync(users: UserFactory) -> None:
    """The sender's stream has none of the notifications their actions made for others."""
    alice, bob = await users.register(), await users.register()
    cursor = await fresh_cursor(alice)
    request = await send_friend_request(alice, bob)
    accepted = await bob.client.post(f"/friend-requests/{request['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    await send_each(alice, bob, 2)
    mine = {n["id"] for n in await notifications(alice)}
    for event in notification_events(await sync_all(alice, cursor)):
        if event["type"] == "notification.read":
            assert set(event["data"]["ids"]) <= mine, event
        else:
            assert event["data"]["notification"]["id"] in mine, event
    assert [n["type"] for n in await notifications(alice)] == ["friend_accepted"]


# One transaction


async def test_a_refused_message_creates_no_notification(users: UserFactory) -> None:
    """A message refused with 403 (not friends) notifies nobody."""
    alice, bob = await users.register(), await users.register()
    cursor = await fresh_cursor(bob)
    assert_error(await post_message(alice, bob.id, "let me in"), 403)
    assert await notifications(bob) == []
    assert notification_events(await sync_all(bob, cursor)) == []


# Pruning


async def read_notifications_of(users: UserFactory) -> tuple[SignedInUser, list[Json]]:
    """A user with one read friend_request notification (and its listing)."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)
    await read_all(bob)
    return bob, await notifications(bob)


async def signed_in_again(users: UserFactory, user: SignedInUser) -> SignedInUser:
    """``user`` with a new session (the old one expires while the clock jumps months)."""
    token = await users.login(user.username)
    return dataclasses.replace(user, token=token, client=users.client(token))


async def test_read_notifications_older_than_the_retention_are_pruned(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """Maintenance deletes notifications read more than 90 days ago."""
    bob, listed = await read_notifications_of(users)
    assert len(listed) == 1
    clock.advance(days=90, seconds=1)
    await maintenance.run_once(server.app.state.services)
    bob = await signed_in_again(users, bob)
    assert await notifications(bob) == []


async def test_recently_read_notifications_are_kept(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """Maintenance keeps notifications read less than 90 days ago."""
    bob, listed = await read_notifications_of(users)
    clock.advance(days=89)
    await maintenance.run_once(server.app.state.services)
    bob = await signed_in_again(users, bob)
    assert await notifications(bob) == listed


async def test_unread_notifications_are_never_pruned(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """Maintenance keeps unread notifications, however old."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)
    listed = await notifications(bob)
    clock.advance(days=365)
    await maintenance.run_once(server.app.state.services)
    bob = await signed_in_again(users, bob)
    assert await notifications(bob) == listed


async def test_the_retention_is_configurable(start_server: ServerStarter, clock: FakeClock) -> None:
    """With notification_retention=1d, a notification read two days ago is pruned."""
    server = await start_server(notification_retention="1d")
    async with UserFactory(server.api_url) as users:
        bob, _ = await read_notifications_of(users)
        clock.advance(days=2)
        await maintenance.run_once(server.app.state.services)
        bob = await signed_in_again(users, bob)
        assert await notifications(bob) == []


async def test_pruning_keeps_what_the_retention_covers(
    start_server: ServerStarter, clock: FakeClock
) -> None:
    """With notification_retention=1d, a notification read twelve hours ago stays."""
    server = await start_server(notification_retention="1d")
    async with UserFactory(server.api_url) as users:
        bob, listed = await read_notifications_of(users)
        clock.advance(timedelta(hours=12))
        await maintenance.run_once(server.app.state.services)
        bob = await signed_in_again(users, bob)
        assert await notifications(bob) == listed


@pytest.mark.parametrize("kind", ["friend_request", "message"])
async def test_pruning_removes_only_the_old_read_ones(
    server: RunningServer, users: UserFactory, clock: FakeClock, kind: str
) -> None:
    """Of a user's notifications, only those read past the retention go."""
    alice, bob = await friends(users)
    if kind == "message":
        await send(alice, bob)
    old = (await notifications(bob))[0]
    assert (await read_notification(bob, old["id"])).status_code == 204
    clock.advance(days=91)
    bob = await signed_in_again(users, bob)
    carol = await users.register()
    await send_friend_request(carol, bob)
    fresh = await notifications(bob, unread=True)
    await maintenance.run_once(server.app.state.services)
    remaining = {n["id"] for n in await notifications(bob)}
    assert old["id"] not in remaining
    assert {n["id"] for n in fresh} <= remaining
