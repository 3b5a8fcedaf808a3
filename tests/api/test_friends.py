"""Friends: the list of friendships and unfriending (the contract's "Friends")."""

import asyncio
import base64
from typing import Any

import httpx
import pytest

from tests.support.api_errors import assert_error
from tests.support.clock import FakeClock
from tests.support.factories import (
    SignedInUser,
    UserFactory,
    befriend,
    distinct_pairs,
    send_friend_request,
)
from tests.support.server import RunningServer
from tests.support.times import parse_utc

PUBLIC_USER_KEYS = {"id", "username", "created_at"}
# Well formed, but no user ever gets it (ids embed their creation time).
UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


async def friends_of(user: SignedInUser) -> list[dict[str, Any]]:
    """Every friendship of ``user`` (one page of up to 200)."""
    response = await user.get("/friends", params={"limit": 200})
    assert response.status_code == 200, response.text
    friends: list[dict[str, Any]] = response.json()["friends"]
    return friends


async def friend_ids(user: SignedInUser) -> list[str]:
    return [friend["user"]["id"] for friend in await friends_of(user)]


async def unfriend(user: SignedInUser, user_id: str) -> httpx.Response:
    return await user.client.delete(f"/friends/{user_id}")


async def pages(user: SignedInUser, limit: int) -> list[dict[str, Any]]:
    """Follow ``next_before`` from the first page of /friends to the last."""
    bodies: list[dict[str, Any]] = []
    before: str | None = None
    while True:
        query: dict[str, Any] = (
            {"limit": limit} if before is None else {"limit": limit, "before": before}
        )
        response = await user.get("/friends", params=query)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        before = bodies[-1]["next_before"]
        if before is None:
            return bodies
        assert len(bodies) < 50, "next_before never became null"


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# The list


async def test_new_user_has_no_friends(users: UserFactory) -> None:
    """A new user's friend list is empty and has no next page."""
    alice = await users.register()

    response = await alice.get("/friends")

    assert response.status_code == 200, response.text
    assert response.json() == {"friends": [], "next_before": None}


async def test_friend_list_shows_the_other_person_on_both_sides(users: UserFactory) -> None:
    """Each friend lists the other one as ``user``, never themself."""
    alice, bob = await users.register(), await users.register()

    await befriend(alice, bob)

    [of_alice] = await friends_of(alice)
    [of_bob] = await friends_of(bob)
    assert of_alice["user"]["id"] == bob.id
    assert of_alice["user"]["username"] == bob.username
    assert of_bob["user"]["id"] == alice.id
    assert of_bob["user"]["username"] == alice.username


async def test_friend_list_shows_only_public_users(users: UserFactory) -> None:
    """A friendship is ``{user, since}`` with a public user: no email."""
    alice, bob = await users.register(), await users.register()

    await befriend(alice, bob)

    [friendship] = await friends_of(alice)
    assert set(friendship) == {"user", "since"}
    assert set(friendship["user"]) == PUBLIC_USER_KEYS
    parse_utc(friendship["user"]["created_at"])


async def test_friends_since_the_acceptance_on_both_sides(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """``since`` is when the request was accepted, the same for both friends."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    clock.advance(minutes=5)
    accepted_at = server.clock.now()
    await bob.client.post(f"/friend-requests/{request['id']}/accept")
    clock.advance(minutes=5)

    [of_alice] = await friends_of(alice)
    [of_bob] = await friends_of(bob)

    assert parse_utc(of_alice["since"]) == accepted_at
    assert parse_utc(of_bob["since"]) == accepted_at


async def test_a_friendship_is_seen_only_by_the_two_friends(users: UserFactory) -> None:
    """A third user's friend list does not show other people's friendships."""
    alice, bob, carol = await users.register(), await users.register(), await users.register()

    await befriend(alice, bob)

    assert await friend_ids(carol) == []


# Unfriending


async def test_unfriend_answers_204(users: UserFactory) -> None:
    """Unfriending answers 204 with an empty body."""
    alice, bob = await users.register(), await users.register()
    await befriend(alice, bob)

    response = await unfriend(alice, bob.id)

    assert response.status_code == 204, response.text
    assert response.content == b""


@pytest.mark.parametrize("who", ["requester", "accepter"])
async def test_unfriend_ends_the_friendship_for_both(users: UserFactory, who: str) -> None:
    """Either friend may unfriend, and then neither lists the other."""
    alice, bob = await users.register(), await users.register()
    await befriend(alice, bob)
    me, other = (alice, bob) if who == "requester" else (bob, alice)

    await unfriend(me, other.id)

    assert await friend_ids(alice) == []
    assert await friend_ids(bob) == []


async def test_unfriending_twice_is_404(users: UserFactory) -> None:
    """Unfriending someone who is no longer a friend is 404 not_friends."""
    alice, bob = await users.register(), await users.register()
    await befriend(alice, bob)
    await unfriend(alice, bob.id)

    response = await unfriend(alice, bob.id)

    assert_error(response, 404, "not_friends")


async def test_unfriend_by_the_other_side_after_unfriend_is_404(users: UserFactory) -> None:
    """Once one friend has unfriended, the other one's unfriend is 404 not_friends."""
    alice, bob = await users.register(), await users.register()
    await befriend(alice, bob)
    await unfriend(alice, bob.id)

    response = await unfriend(bob, alice.id)

    assert_error(response, 404, "not_friends")


async def test_unfriending_a_stranger_is_404(users: UserFactory) -> None:
    """Unfriending an existing user who is not a friend is 404 not_friends."""
    alice, bob = await users.register(), await users.register()

    response = await unfriend(alice, bob.id)

    assert_error(response, 404, "not_friends")


async def test_unfriending_with_a_pending_request_is_404_and_keeps_it(users: UserFactory) -> None:
    """A pending request is no friendship: unfriend is 404 and the request stays."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    response = await unfriend(alice, bob.id)

    assert_error(response, 404, "not_friends")
    listed = await bob.get("/friend-requests")
    assert [r["id"] for r in listed.json()["requests"]] == [request["id"]]


@pytest.mark.parametrize(
    "user_id",
    [UNKNOWN_ID, "nobody", "0" * 27, UNKNOWN_ID.lower()],
    ids=["unknown", "word", "long", "lower"],
)
async def test_unfriending_a_missing_user_is_404(users: UserFactory, user_id: str) -> None:
    """Unfriending an id that does not exist or is malformed is 404."""
    alice = await users.register()

    response = await unfriend(alice, user_id)

    assert_error(response, 404)


async def test_unfriending_yourself_is_404(users: UserFactory) -> None:
    """Nobody is their own friend, so unfriending yourself is 404 not_friends."""
    alice = await users.register()

    response = await unfriend(alice, alice.id)

    assert_error(response, 404, "not_friends")


async def test_unfriend_leaves_other_friendships(users: UserFactory) -> None:
    """Ending one friendship leaves the user's other friendships, and theirs, alone."""
    alice, bob, carol = await users.register(), await users.register(), await users.register()
    await befriend(alice, bob)
    await befriend(alice, carol)
    await befriend(bob, carol)

    await unfriend(alice, bob.id)

    assert await friend_ids(alice) == [carol.id]
    assert await friend_ids(bob) == [carol.id]
    assert sorted(await friend_ids(carol)) == sorted([alice.id, bob.id])


async def test_former_friends_may_befriend_again(users: UserFactory) -> None:
    """After an unfriend, asking again makes a new request (201), not already_friends."""
    alice, bob = await users.register(), await users.register()
    await befriend(alice, bob)
    await unfriend(bob, alice.id)

    response = await bob.client.post("/friend-requests", json={"user_id": alice.id})

    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/friends"), ("DELETE", f"/friends/{UNKNOWN_ID}")]
)
async def test_friends_need_authentication(anon: httpx.AsyncClient, method: str, path: str) -> None:
    """Listing friends and unfriending without credentials is 401."""
    response = await anon.request(method, path)

    assert_error(response, 401)


# Pagination


async def test_friends_are_listed_newest_first(users: UserFactory, clock: FakeClock) -> None:
    """The friendship begun last comes first."""
    me = await users.register()
    others = []
    for _ in range(4):
        other = await users.register()
        await befriend(other, me)
        others.append(other)
        clock.advance(seconds=1)

    assert await friend_ids(me) == [other.id for other in reversed(others)]


async def test_friends_are_ordered_by_acceptance_not_by_request(
    users: UserFactory, clock: FakeClock
) -> None:
    """A friendship's place in the list is when it began, not when it was first asked for."""
    me, early, late = await users.register(), await users.register(), await users.register()
    early_request = await send_friend_request(early, me)
    clock.advance(seconds=1)
    late_request = await send_friend_request(late, me)
    clock.advance(seconds=1)
    await me.client.post(f"/friend-requests/{late_request['id']}/accept")
    clock.advance(seconds=1)
    await me.client.post(f"/friend-requests/{early_request['id']}/accept")

    assert await friend_ids(me) == [early.id, late.id]


async def test_friend_pages_chain_without_gaps_or_repeats(
    users: UserFactory, clock: FakeClock
) -> None:
    """Following next_before with limit=3 over 7 friends yields each once, newest first."""
    me = await users.register()
    others = []
    for _ in range(7):
        other = await users.register()
        await befriend(me, other)
        others.append(other)
        clock.advance(seconds=1)

    bodies = await pages(me, limit=3)

    assert [len(body["friends"]) for body in bodies] == [3, 3, 1]
    assert [body["next_before"] is None for body in bodies] == [False, False, True]
    listed = [friend["user"]["id"] for body in bodies for friend in body["friends"]]
    assert listed == [other.id for other in reversed(others)]


async def test_friend_pages_chain_when_times_are_equal(users: UserFactory) -> None:
    """Friendships begun at the same instant are still each listed exactly once across pages."""
    me = await users.register()
    others = []
    for _ in range(7):
        other = await users.register()
        await befriend(other, me)
        others.append(other)

    bodies = await pages(me, limit=3)

    listed = [friend["user"]["id"] for body in bodies for friend in body["friends"]]
    assert sorted(listed) == sorted(other.id for other in others)
    assert len(bodies) == 3


async def test_friend_pages_are_per_user(users: UserFactory, clock: FakeClock) -> None:
    """Each friend pages through their own list: a shared friendship shows from both sides."""
    me, hub = await users.register(), await users.register()
    for _ in range(3):
        await befriend(hub, await users.register())
        clock.advance(seconds=1)
    await befriend(me, hub)
    clock.advance(seconds=1)
    for _ in range(3):
        await befriend(me, await users.register())
        clock.advance(seconds=1)

    mine = [f["user"]["id"] for body in await pages(me, limit=2) for f in body["friends"]]
    hubs = [f["user"]["id"] for body in await pages(hub, limit=2) for f in body["friends"]]

    assert len(mine) == 4
    assert mine[-1] == hub.id
    assert len(hubs) == 4
    assert hubs[0] == me.id


async def test_a_full_last_friend_page_has_no_next_before(
    users: UserFactory, clock: FakeClock
) -> None:
    """When the page holds the oldest friendship, next_before is null even if the page is full."""
    me = await users.register()
    for _ in range(3):
        await befriend(me, await users.register())
        clock.advance(seconds=1)

    response = await me.get("/friends", params={"limit": 3})

    assert response.status_code == 200, response.text
    assert len(response.json()["friends"]) == 3
    assert response.json()["next_before"] is None


def page_ids(response: httpx.Response) -> list[str]:
    """The ids of the other users on a page of requests, friends or blocks."""
    assert response.status_code == 200, response.text
    body = response.json()
    if "requests" in body:
        return [request["from_user"]["id"] for request in body["requests"]]
    if "friends" in body:
        return [friend["user"]["id"] for friend in body["friends"]]
    return [user["id"] for user in body["users"]]


@pytest.mark.slow
async def test_every_friends_list_holds_50_by_default(users: UserFactory, clock: FakeClock) -> None:
    """Without ``limit``, incoming requests, friends and blocks come 50 to a page, then the rest.

    One test for the three lists, because it needs 51 registrations (slow on purpose).
    """
    me = await users.register()
    others = [await users.register() for _ in range(51)]
    newest_first = [other.id for other in reversed(others)]
    requests = []
    for other in others:
        requests.append(await send_friend_request(other, me))
        clock.advance(seconds=1)
    first_requests = await me.get("/friend-requests")
    more_requests = await me.get(
        "/friend-requests", params={"before": first_requests.json()["next_before"]}
    )
    for request in requests:
        await me.client.post(f"/friend-requests/{request['id']}/accept")
        clock.advance(seconds=1)
    first_friends = await me.get("/friends")
    more_friends = await me.get("/friends", params={"before": first_friends.json()["next_before"]})
    for other in others:
        await me.client.post("/blocks", json={"user_id": other.id})
        clock.advance(seconds=1)
    first_blocks = await me.get("/blocks")
    more_blocks = await me.get("/blocks", params={"before": first_blocks.json()["next_before"]})

    for first, more in [
        (first_requests, more_requests),
        (first_friends, more_friends),
        (first_blocks, more_blocks),
    ]:
        assert page_ids(first) == newest_first[:50]
        assert page_ids(more) == newest_first[50:]
        assert more.json()["next_before"] is None


@pytest.mark.parametrize("limit", [201, 1000, 10**12])
async def test_a_friend_limit_over_200_is_clamped_not_refused(
    users: UserFactory, limit: int
) -> None:
    """A limit larger than 200 is accepted (clamped), not an error."""
    me = await users.register()
    others = [await users.register() for _ in range(3)]
    for other in others:
        await befriend(me, other)

    response = await me.get("/friends", params={"limit": limit})

    assert response.status_code == 200, response.text
    listed = [friend["user"]["id"] for friend in response.json()["friends"]]
    assert sorted(listed) == sorted(other.id for other in others)
    assert response.json()["next_before"] is None


@pytest.mark.parametrize("limit", ["0", "-1", "ten", "1.5"])
async def test_an_invalid_friend_limit_is_422(users: UserFactory, limit: str) -> None:
    """A limit that is not a positive integer is 422."""
    me = await users.register()

    response = await me.get("/friends", params={"limit": limit})

    assert_error(response, 422)


@pytest.mark.parametrize(
    "before",
    [
        "garbage",
        cursor("not a time|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        cursor("2024-01-01T00:00:00|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        cursor("2024-01-01T00:00:00+00:00|"),
        cursor("0001-01-01T00:00:00+01:00|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        cursor("2024-01-01T00:00:00+00:00|\x00"),
        "x" * 600,
    ],
    ids=["word", "not-a-time", "naive-time", "no-id", "before-year-1-in-utc", "nul-in-id", "huge"],
)
async def test_an_invalid_friend_cursor_is_422(users: UserFactory, before: str) -> None:
    """A ``before`` that is not a cursor the server gave out is 422, never a 5xx."""
    me = await users.register()

    response = await me.get("/friends", params={"before": before})

    assert_error(response, 422)


# Concurrency


async def test_simultaneous_unfriends_end_the_friendship_once(users: UserFactory) -> None:
    """Both friends unfriending at the same moment: one 204, one 404, and no friendship left."""
    for alice, bob in await distinct_pairs(users, 10):
        await befriend(alice, bob)

        responses = await asyncio.gather(unfriend(alice, bob.id), unfriend(bob, alice.id))

        assert sorted(r.status_code for r in responses) == [204, 404], [r.text for r in responses]
        assert bob.id not in await friend_ids(alice)
        assert alice.id not in await friend_ids(bob)


async def test_unfriend_racing_a_new_request_ends_consistently(users: UserFactory) -> None:
    """An unfriend racing a request between the same pair: no 5xx, and never both outcomes."""
    for alice, bob in await distinct_pairs(users, 10):
        await befriend(alice, bob)

        removed, asked = await asyncio.gather(
            unfriend(alice, bob.id),
            bob.client.post("/friend-requests", json={"user_id": alice.id}),
        )

        assert removed.status_code == 204, removed.text
        assert asked.status_code in {201, 409}, asked.text
        assert bob.id not in await friend_ids(alice)
        incoming = (await alice.get("/friend-requests", params={"limit": 200})).json()["requests"]
        from_bob = [r for r in incoming if r["from_user"]["id"] == bob.id]
        assert len(from_bob) == (1 if asked.status_code == 201 else 0)
