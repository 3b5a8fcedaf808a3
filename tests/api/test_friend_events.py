"""Domain events of friendships: each committed change announces what happened, and to whom.

The real-time and notification features subscribe to these events, so each state change must
announce exactly its events, after it committed, to the right audience; a refused action
announces nothing.
"""

import asyncio

import httpx
import pytest
from sqlalchemy import func, select

from gkchat.db.tables import friend_requests
from gkchat.domain import events
from gkchat.domain.events import DomainEvent
from tests.support.clock import FakeClock
from tests.support.factories import (
    SignedInUser,
    UserFactory,
    befriend,
    distinct_pairs,
    send_friend_request,
)
from tests.support.server import RunningServer


@pytest.fixture
def announced(server: RunningServer) -> list[DomainEvent]:
    """Every friendship event the server announces after a commit, in order.

    The notifications derived from them are announced too; tests/api/test_notifications.py
    covers those, so they are left out here.
    """
    seen: list[DomainEvent] = []

    async def record(event: DomainEvent) -> None:
        if not event.type.startswith("notification."):
            seen.append(event)

    server.app.state.services.events.on_commit(record)
    return seen


def audience_of(event: DomainEvent) -> list[str]:
    return sorted(event.audience)


def ids(*people: SignedInUser) -> list[str]:
    return sorted(person.id for person in people)


async def ask(sender: SignedInUser, user_id: str) -> httpx.Response:
    return await sender.client.post("/friend-requests", json={"user_id": user_id})


async def block(blocker: SignedInUser, user_id: str) -> httpx.Response:
    return await blocker.client.post("/blocks", json={"user_id": user_id})


# What each change announces


async def test_sending_announces_request_created_to_both(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """A new request announces friend_request.created, with that request, to both users."""
    alice, bob = await users.register(), await users.register()
    announced.clear()

    request = await send_friend_request(alice, bob)

    [event] = announced
    assert isinstance(event, events.FriendRequestCreated)
    assert event.type == "friend_request.created"
    assert event.request.id == request["id"]
    assert event.request.from_user.id == alice.id
    assert event.request.to_user.id == bob.id
    assert audience_of(event) == ids(alice, bob)


async def test_accepting_announces_request_accepted_to_both(
    server: RunningServer, users: UserFactory, clock: FakeClock, announced: list[DomainEvent]
) -> None:
    """An accept announces friend_request.accepted, with the request and its time, to both."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    clock.advance(seconds=5)
    announced.clear()

    await bob.client.post(f"/friend-requests/{request['id']}/accept")

    [event] = announced
    assert isinstance(event, events.FriendRequestAccepted)
    assert event.type == "friend_request.accepted"
    assert event.request.id == request["id"]
    assert event.request.from_user.id == alice.id
    assert event.since == server.clock.now()
    assert audience_of(event) == ids(alice, bob)


async def test_asking_back_announces_only_request_accepted(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """Asking back announces the acceptance of the first request, and no new request."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    announced.clear()

    response = await ask(bob, alice.id)

    assert response.status_code == 200, response.text
    [event] = announced
    assert isinstance(event, events.FriendRequestAccepted)
    assert event.request.id == request["id"]
    assert event.request.from_user.id == alice.id
    assert audience_of(event) == ids(alice, bob)


async def test_declining_announces_request_declined_to_the_recipient_only(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """A decline announces friend_request.declined to the decliner alone: the sender is not told."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    announced.clear()

    await bob.client.post(f"/friend-requests/{request['id']}/decline")

    [event] = announced
    assert isinstance(event, events.FriendRequestDeclined)
    assert event.type == "friend_request.declined"
    assert event.request.id == request["id"]
    assert audience_of(event) == ids(bob)


async def test_cancelling_announces_request_cancelled_to_both(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """A cancel announces friend_request.cancelled, with that request, to both users."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    announced.clear()

    await alice.client.delete(f"/friend-requests/{request['id']}")

    [event] = announced
    assert isinstance(event, events.FriendRequestCancelled)
    assert event.type == "friend_request.cancelled"
    assert event.request.id == request["id"]
    assert audience_of(event) == ids(alice, bob)


async def test_unfriending_announces_friend_removed_to_both(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """An unfriend announces friend.removed, naming who removed whom, to both users."""
    alice, bob = await users.register(), await users.register()
    await befriend(alice, bob)
    announced.clear()

    await bob.client.delete(f"/friends/{alice.id}")

    [event] = announced
    assert isinstance(event, events.FriendRemoved)
    assert event.type == "friend.removed"
    assert event.user_id == bob.id
    assert event.friend_id == alice.id
    assert audience_of(event) == ids(alice, bob)


async def test_blocking_announces_user_blocked_to_the_blocker_only(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """A block announces user.blocked to the blocker alone: the blocked user learns nothing."""
    alice, mallory = await users.register(), await users.register()
    announced.clear()

    await block(alice, mallory.id)

    [event] = announced
    assert isinstance(event, events.UserBlocked)
    assert event.type == "user.blocked"
    assert event.blocker_id == alice.id
    assert event.blocked_id == mallory.id
    assert event.ended_friendship is False
    assert audience_of(event) == ids(alice)


async def test_blocking_a_friend_announces_only_user_blocked(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """Blocking a friend announces one user.blocked that says it ended the friendship."""
    alice, mallory = await users.register(), await users.register()
    await befriend(alice, mallory)
    announced.clear()

    await block(alice, mallory.id)

    [event] = announced
    assert isinstance(event, events.UserBlocked)
    assert event.ended_friendship is True
    assert audience_of(event) == ids(alice)


@pytest.mark.parametrize("sender", ["blocker", "blocked"])
async def test_blocking_with_a_pending_request_announces_only_user_blocked(
    users: UserFactory, announced: list[DomainEvent], sender: str
) -> None:
    """The request a block ends is not announced to anyone; only the blocker hears of the block."""
    alice, mallory = await users.register(), await users.register()
    if sender == "blocker":
        await send_friend_request(alice, mallory)
    else:
        await send_friend_request(mallory, alice)
    announced.clear()

    await block(alice, mallory.id)

    [event] = announced
    assert isinstance(event, events.UserBlocked)
    assert audience_of(event) == ids(alice)


async def test_unblocking_announces_user_unblocked_to_the_blocker_only(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """An unblock announces user.unblocked to the blocker alone."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)
    announced.clear()

    await alice.client.delete(f"/blocks/{mallory.id}")

    [event] = announced
    assert isinstance(event, events.UserUnblocked)
    assert event.type == "user.unblocked"
    assert event.blocker_id == alice.id
    assert event.blocked_id == mallory.id
    assert audience_of(event) == ids(alice)


async def test_blocking_again_announces_nothing(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """Blocking someone already blocked changes nothing, so it announces nothing."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)
    announced.clear()

    response = await block(alice, mallory.id)

    assert response.status_code == 204, response.text
    assert announced == []


async def test_an_event_is_announced_once_its_change_is_visible(
    server: RunningServer, users: UserFactory
) -> None:
    """When friend_request.created is announced, other connections already see the request."""
    services = server.app.state.services
    visible: list[bool] = []

    async def check(event: DomainEvent) -> None:
        if isinstance(event, events.FriendRequestCreated):
            query = select(func.count()).where(friend_requests.c.id == event.request.id)
            async with services.db.read() as conn:
                visible.append((await conn.execute(query)).scalar_one() == 1)

    services.events.on_commit(check)
    alice, bob = await users.register(), await users.register()

    await send_friend_request(alice, bob)

    assert visible == [True]


# Refused actions announce nothing


async def test_a_duplicate_request_announces_nothing(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """A 409 request_exists announces nothing."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)
    announced.clear()

    response = await ask(alice, bob.id)

    assert response.status_code == 409, response.text
    assert announced == []


async def test_a_request_between_friends_announces_nothing(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """A 409 already_friends announces nothing."""
    alice, bob = await users.register(), await users.register()
    await befriend(alice, bob)
    announced.clear()

    response = await ask(bob, alice.id)

    assert response.status_code == 409, response.text
    assert announced == []


@pytest.mark.parametrize("asker", ["blocker", "blocked"])
async def test_a_request_across_a_block_announces_nothing(
    users: UserFactory, announced: list[DomainEvent], asker: str
) -> None:
    """A request refused because of a block (403) announces nothing."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)
    me, other = (alice, mallory) if asker == "blocker" else (mallory, alice)
    announced.clear()

    response = await ask(me, other.id)

    assert response.status_code == 403, response.text
    assert announced == []


async def test_a_request_to_yourself_or_nobody_announces_nothing(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """Requests refused with 422 or 404 announce nothing."""
    alice = await users.register()
    announced.clear()

    to_self = await ask(alice, alice.id)
    to_nobody = await ask(alice, "01ARZ3NDEKTSV4RRFFQ69G5FAV")

    assert (to_self.status_code, to_nobody.status_code) == (422, 404)
    assert announced == []


@pytest.mark.parametrize(
    ("actor", "method", "suffix"),
    [
        ("sender", "POST", "/accept"),
        ("stranger", "POST", "/accept"),
        ("sender", "POST", "/decline"),
        ("stranger", "POST", "/decline"),
        ("recipient", "DELETE", ""),
        ("stranger", "DELETE", ""),
    ],
)
async def test_handling_a_request_that_is_not_yours_announces_nothing(
    users: UserFactory, announced: list[DomainEvent], actor: str, method: str, suffix: str
) -> None:
    """A 404 for answering or cancelling someone else's request announces nothing."""
    alice, bob, carol = await users.register(), await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    caller = {"sender": alice, "recipient": bob, "stranger": carol}[actor]
    announced.clear()

    response = await caller.client.request(method, f"/friend-requests/{request['id']}{suffix}")

    assert response.status_code == 404, response.text
    assert announced == []


async def test_accepting_a_cancelled_request_announces_nothing(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """Accepting after the sender cancelled (404) announces nothing more."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    await alice.client.delete(f"/friend-requests/{request['id']}")
    announced.clear()

    response = await bob.client.post(f"/friend-requests/{request['id']}/accept")

    assert response.status_code == 404, response.text
    assert announced == []


async def test_unfriending_a_stranger_announces_nothing(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """A 404 not_friends announces nothing."""
    alice, bob = await users.register(), await users.register()
    announced.clear()

    response = await alice.client.delete(f"/friends/{bob.id}")

    assert response.status_code == 404, response.text
    assert announced == []


async def test_refused_blocks_and_unblocks_announce_nothing(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """Blocking yourself (422), blocking nobody (404) and a needless unblock (404) are silent."""
    alice, bob = await users.register(), await users.register()
    announced.clear()

    statuses = [
        (await block(alice, alice.id)).status_code,
        (await block(alice, "01ARZ3NDEKTSV4RRFFQ69G5FAV")).status_code,
        (await alice.client.delete(f"/blocks/{bob.id}")).status_code,
    ]

    assert statuses == [422, 404, 404]
    assert announced == []


# Under concurrency


async def test_simultaneous_mutual_requests_announce_one_request_and_its_acceptance(
    users: UserFactory, announced: list[DomainEvent]
) -> None:
    """Two users asking each other at once announce one creation, then one acceptance of it."""
    for alice, bob in await distinct_pairs(users, 5):
        announced.clear()

        await asyncio.gather(ask(alice, bob.id), ask(bob, alice.id))

        assert sorted(event.type for event in announced) == [
            "friend_request.accepted",
            "friend_request.created",
        ]
        created, accepted = sorted(announced, key=lambda event: event.type, reverse=True)
        assert isinstance(created, events.FriendRequestCreated)
        assert isinstance(accepted, events.FriendRequestAccepted)
        assert accepted.request.id == created.request.id
