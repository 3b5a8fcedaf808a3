"""Blocks: block, unblock and the list of blocked users (the contract's "Friends")."""

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
from tests.support.times import parse_utc

PUBLIC_USER_KEYS = {"id", "username", "created_at"}
# Well formed, but no user ever gets it (ids embed their creation time).
UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


async def block(blocker: SignedInUser, user_id: str) -> httpx.Response:
    return await blocker.client.post("/blocks", json={"user_id": user_id})


async def unblock(blocker: SignedInUser, user_id: str) -> httpx.Response:
    return await blocker.client.delete(f"/blocks/{user_id}")


async def ask(sender: SignedInUser, user_id: str) -> httpx.Response:
    return await sender.client.post("/friend-requests", json={"user_id": user_id})


async def blocked_by(user: SignedInUser) -> list[dict[str, Any]]:
    """Every user ``user`` has blocked (one page of up to 200)."""
    response = await user.get("/blocks", params={"limit": 200})
    assert response.status_code == 200, response.text
    blocked: list[dict[str, Any]] = response.json()["users"]
    return blocked


async def blocked_ids(user: SignedInUser) -> list[str]:
    return [blocked["id"] for blocked in await blocked_by(user)]


async def friend_ids(user: SignedInUser) -> list[str]:
    response = await user.get("/friends", params={"limit": 200})
    assert response.status_code == 200, response.text
    return [friend["user"]["id"] for friend in response.json()["friends"]]


async def no_requests_between(a: SignedInUser, b: SignedInUser) -> bool:
    """True when neither user has a pending request to or from the other."""
    for me, other in ((a, b), (b, a)):
        for direction, field in (("incoming", "from_user"), ("outgoing", "to_user")):
            query = {"direction": direction, "limit": 200}
            response = await me.get("/friend-requests", params=query)
            assert response.status_code == 200, response.text
            if any(r[field]["id"] == other.id for r in response.json()["requests"]):
                return False
    return True


async def pages(user: SignedInUser, limit: int) -> list[dict[str, Any]]:
    """Follow ``next_before`` from the first page of /blocks to the last."""
    bodies: list[dict[str, Any]] = []
    before: str | None = None
    while True:
        query: dict[str, Any] = {"limit": limit}
        if before is not None:
            query["before"] = before
        response = await user.get("/blocks", params=query)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        before = bodies[-1]["next_before"]
        if before is None:
            return bodies
        assert len(bodies) < 50, "next_before never became null"


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# Blocking


async def test_block_answers_204(users: UserFactory) -> None:
    """Blocking answers 204 with an empty body."""
    alice, mallory = await users.register(), await users.register()

    response = await block(alice, mallory.id)

    assert response.status_code == 204, response.text
    assert response.content == b""


async def test_blocked_user_is_listed_as_a_public_user(users: UserFactory) -> None:
    """GET /blocks lists the blocked user as a public user, without email."""
    alice, mallory = await users.register(), await users.register()

    await block(alice, mallory.id)

    response = await alice.get("/blocks")
    assert response.status_code == 200, response.text
    [listed] = response.json()["users"]
    assert set(listed) == PUBLIC_USER_KEYS
    assert listed["id"] == mallory.id
    assert listed["username"] == mallory.username
    parse_utc(listed["created_at"])
    assert response.json()["next_before"] is None


async def test_new_user_has_blocked_nobody(users: UserFactory) -> None:
    """A new user's block list is empty."""
    alice = await users.register()

    response = await alice.get("/blocks")

    assert response.status_code == 200, response.text
    assert response.json()["users"] == []
    assert response.json()["next_before"] is None


async def test_block_is_listed_only_for_the_blocker(users: UserFactory) -> None:
    """The blocked user's own block list does not show the block."""
    alice, mallory = await users.register(), await users.register()

    await block(alice, mallory.id)

    assert await blocked_ids(mallory) == []


@pytest.mark.parametrize("who", ["requester", "accepter"])
async def test_block_ends_the_friendship_for_both(users: UserFactory, who: str) -> None:
    """Blocking a friend ends the friendship on both sides, whoever had asked."""
    alice, mallory = await users.register(), await users.register()
    if who == "requester":
        await befriend(alice, mallory)
    else:
        await befriend(mallory, alice)

    await block(alice, mallory.id)

    assert await friend_ids(alice) == []
    assert await friend_ids(mallory) == []


@pytest.mark.parametrize("sender", ["blocker", "blocked"])
async def test_block_ends_a_pending_request_in_either_direction(
    users: UserFactory, sender: str
) -> None:
    """Blocking removes a pending request between the two, whoever sent it."""
    alice, mallory = await users.register(), await users.register()
    if sender == "blocker":
        await send_friend_request(alice, mallory)
    else:
        await send_friend_request(mallory, alice)

    await block(alice, mallory.id)

    assert await no_requests_between(alice, mallory)


async def test_block_leaves_other_relationships_alone(users: UserFactory) -> None:
    """Blocking one user keeps the blocker's other friendships and requests."""
    alice, mallory, bob, carol = [await users.register() for _ in range(4)]
    await befriend(alice, bob)
    await befriend(mallory, bob)
    request = await send_friend_request(carol, alice)

    await block(alice, mallory.id)

    assert await friend_ids(alice) == [bob.id]
    assert sorted(await friend_ids(bob)) == sorted([alice.id, mallory.id])
    incoming = (await alice.get("/friend-requests")).json()["requests"]
    assert [r["id"] for r in incoming] == [request["id"]]


async def test_blocking_twice_is_fine(users: UserFactory) -> None:
    """Blocking someone already blocked answers 204 again and lists them once."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)

    response = await block(alice, mallory.id)

    assert response.status_code == 204, response.text
    assert await blocked_ids(alice) == [mallory.id]


async def test_both_users_may_block_each_other(users: UserFactory) -> None:
    """A blocked user may block the blocker too; each lists only their own block."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)

    response = await block(mallory, alice.id)

    assert response.status_code == 204, response.text
    assert await blocked_ids(alice) == [mallory.id]
    assert await blocked_ids(mallory) == [alice.id]


async def test_blocking_yourself_is_422(users: UserFactory) -> None:
    """Nobody can block themself, and nothing is listed."""
    alice = await users.register()

    response = await block(alice, alice.id)

    assert_error(response, 422)
    assert await blocked_ids(alice) == []


@pytest.mark.parametrize(
    "user_id",
    [UNKNOWN_ID, "nobody", "", "0" * 27, UNKNOWN_ID.lower()],
    ids=["unknown", "word", "empty", "long", "lower"],
)
async def test_blocking_a_missing_user_is_404(users: UserFactory, user_id: str) -> None:
    """Blocking an id that does not exist or is malformed is 404 user_not_found."""
    alice = await users.register()

    response = await block(alice, user_id)

    assert_error(response, 404, "user_not_found")
    assert await blocked_ids(alice) == []


@pytest.mark.parametrize(
    "body", [{}, {"user_id": None}, {"user_id": 7}], ids=["empty", "null", "number"]
)
async def test_block_without_a_user_id_string_is_422(
    users: UserFactory, body: dict[str, Any]
) -> None:
    """The body must carry ``user_id`` as a string."""
    alice = await users.register()

    response = await alice.client.post("/blocks", json=body)

    assert_error(response, 422)


# What a block forbids


async def test_blocked_user_cannot_send_a_request_to_the_blocker(users: UserFactory) -> None:
    """A blocked user asking the blocker to be friends gets 403, and nothing is created."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)

    response = await ask(mallory, alice.id)

    assert_error(response, 403)
    assert await no_requests_between(alice, mallory)


async def test_the_refusal_does_not_reveal_the_block(users: UserFactory) -> None:
    """The blocked user's 403 neither says ``user_blocked`` nor mentions a block."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)

    error = assert_error(await ask(mallory, alice.id), 403)

    assert error["code"] != "user_blocked"
    assert "block" not in error["code"].lower()
    assert "block" not in error["message"].lower()


async def test_blocker_cannot_send_a_request_to_the_blocked_user(users: UserFactory) -> None:
    """The blocker asking the user they blocked gets 403 user_blocked."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)

    response = await ask(alice, mallory.id)

    assert_error(response, 403, "user_blocked")
    assert await no_requests_between(alice, mallory)


async def test_a_block_does_not_stop_others_from_asking(users: UserFactory) -> None:
    """A block concerns only the pair: the blocked user may still ask someone else."""
    alice, mallory, bob = await users.register(), await users.register(), await users.register()
    await block(alice, mallory.id)

    response = await ask(mallory, bob.id)

    assert response.status_code == 201, response.text


# Unblocking


async def test_unblock_answers_204_and_unlists(users: UserFactory) -> None:
    """Unblocking answers 204 and the user leaves the block list."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)

    response = await unblock(alice, mallory.id)

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await blocked_ids(alice) == []


async def test_unblock_does_not_restore_the_friendship(users: UserFactory) -> None:
    """A friendship ended by a block stays ended after the unblock."""
    alice, mallory = await users.register(), await users.register()
    await befriend(alice, mallory)
    await block(alice, mallory.id)

    await unblock(alice, mallory.id)

    assert await friend_ids(alice) == []
    assert await friend_ids(mallory) == []


async def test_unblock_does_not_restore_pending_requests(users: UserFactory) -> None:
    """A request ended by a block stays ended after the unblock."""
    alice, mallory = await users.register(), await users.register()
    await send_friend_request(mallory, alice)
    await block(alice, mallory.id)

    await unblock(alice, mallory.id)

    assert await no_requests_between(alice, mallory)


@pytest.mark.parametrize("asker", ["blocker", "blocked"])
async def test_after_an_unblock_either_may_ask_again(users: UserFactory, asker: str) -> None:
    """Once the block is lifted, a request in either direction is a new request (201)."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)
    await unblock(alice, mallory.id)
    me, other = (alice, mallory) if asker == "blocker" else (mallory, alice)

    response = await ask(me, other.id)

    assert response.status_code == 201, response.text


async def test_unblocking_lifts_only_your_own_block(users: UserFactory) -> None:
    """When both blocked each other, one unblock leaves the other block in force."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)
    await block(mallory, alice.id)

    await unblock(alice, mallory.id)

    assert await blocked_ids(mallory) == [alice.id]
    assert_error(await ask(alice, mallory.id), 403)


async def test_unblocking_twice_is_404(users: UserFactory) -> None:
    """Unblocking someone no longer blocked is 404."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)
    await unblock(alice, mallory.id)

    response = await unblock(alice, mallory.id)

    assert_error(response, 404)


async def test_unblocking_someone_never_blocked_is_404(users: UserFactory) -> None:
    """Unblocking an existing user you never blocked is 404."""
    alice, bob = await users.register(), await users.register()

    response = await unblock(alice, bob.id)

    assert_error(response, 404)


async def test_the_blocked_user_cannot_lift_the_block(users: UserFactory) -> None:
    """Only the blocker can unblock: the blocked user's unblock is 404 and the block stays."""
    alice, mallory = await users.register(), await users.register()
    await block(alice, mallory.id)

    response = await unblock(mallory, alice.id)

    assert_error(response, 404)
    assert await blocked_ids(alice) == [mallory.id]


@pytest.mark.parametrize(
    "user_id", [UNKNOWN_ID, "nobody", "0" * 27], ids=["unknown", "word", "long"]
)
async def test_unblocking_a_missing_user_is_404(users: UserFactory, user_id: str) -> None:
    """Unblocking an id that does not exist or is malformed is 404."""
    alice = await users.register()

    response = await unblock(alice, user_id)

    assert_error(response, 404)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/blocks", {"user_id": UNKNOWN_ID}),
        ("GET", "/blocks", None),
        ("DELETE", f"/blocks/{UNKNOWN_ID}", None),
    ],
)
async def test_blocks_need_authentication(
    anon: httpx.AsyncClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    """Blocking, unblocking and listing blocks without credentials is 401."""
    response = await anon.request(method, path, json=body)

    assert_error(response, 401)


# Pagination


async def test_blocked_users_are_listed_newest_first(users: UserFactory, clock: FakeClock) -> None:
    """The user blocked last comes first."""
    alice = await users.register()
    blocked = []
    for _ in range(4):
        other = await users.register()
        await block(alice, other.id)
        blocked.append(other)
        clock.advance(seconds=1)

    assert await blocked_ids(alice) == [other.id for other in reversed(blocked)]


async def test_block_pages_chain_without_gaps_or_repeats(
    users: UserFactory, clock: FakeClock
) -> None:
    """Following next_before with limit=3 over 7 blocks yields each once, newest first."""
    alice = await users.register()
    blocked = []
    for _ in range(7):
        other = await users.register()
        await block(alice, other.id)
        blocked.append(other)
        clock.advance(seconds=1)

    bodies = await pages(alice, limit=3)

    assert [len(body["users"]) for body in bodies] == [3, 3, 1]
    assert [body["next_before"] is None for body in bodies] == [False, False, True]
    listed = [user["id"] for body in bodies for user in body["users"]]
    assert listed == [other.id for other in reversed(blocked)]


async def test_block_pages_chain_when_times_are_equal(users: UserFactory) -> None:
    """Blocks made at the same instant are still each listed exactly once across pages."""
    alice = await users.register()
    blocked = [await users.register() for _ in range(7)]
    for other in blocked:
        await block(alice, other.id)

    bodies = await pages(alice, limit=3)

    listed = [user["id"] for body in bodies for user in body["users"]]
    assert sorted(listed) == sorted(other.id for other in blocked)
    assert len(bodies) == 3


@pytest.mark.parametrize("limit", [201, 1000, 10**12])
async def test_a_block_limit_over_200_is_clamped_not_refused(
    users: UserFactory, limit: int
) -> None:
    """A limit larger than 200 is accepted (clamped), not an error."""
    alice = await users.register()
    blocked = [await users.register() for _ in range(3)]
    for other in blocked:
        await block(alice, other.id)

    response = await alice.get("/blocks", params={"limit": limit})

    assert response.status_code == 200, response.text
    listed = [user["id"] for user in response.json()["users"]]
    assert sorted(listed) == sorted(other.id for other in blocked)
    assert response.json()["next_before"] is None


@pytest.mark.parametrize("limit", ["0", "-1", "ten", "1.5"])
async def test_an_invalid_block_limit_is_422(users: UserFactory, limit: str) -> None:
    """A limit that is not a positive integer is 422."""
    alice = await users.register()

    response = await alice.get("/blocks", params={"limit": limit})

    assert_error(response, 422)


@pytest.mark.parametrize(
    "before",
    [
        "garbage",
        cursor("not a time|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        cursor("2024-01-01T00:00:00|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        cursor("0001-01-01T00:00:00+01:00|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        cursor("2024-01-01T00:00:00+00:00|\x00"),
    ],
    ids=["word", "not-a-time", "naive-time", "before-year-1-in-utc", "nul-in-id"],
)
async def test_an_invalid_block_cursor_is_422(users: UserFactory, before: str) -> None:
    """A ``before`` that is not a cursor the server gave out is 422, never a 5xx."""
    alice = await users.register()

    response = await alice.get("/blocks", params={"before": before})

    assert_error(response, 422)


# Concurrency


@pytest.mark.parametrize("blocker", ["sender", "recipient"])
async def test_block_racing_an_accept_never_leaves_friends(
    users: UserFactory, blocker: str
) -> None:
    """A block and an accept at the same moment: no 5xx, and the pair ends blocked, not friends."""
    for alice, bob in await distinct_pairs(users, 10):
        request = await send_friend_request(alice, bob)
        me, other = (alice, bob) if blocker == "sender" else (bob, alice)

        accepted, blocked = await asyncio.gather(
            bob.client.post(f"/friend-requests/{request['id']}/accept"), block(me, other.id)
        )

        assert blocked.status_code == 204, blocked.text
        assert accepted.status_code in {200, 404}, accepted.text
        assert bob.id not in await friend_ids(alice)
        assert alice.id not in await friend_ids(bob)
        assert await no_requests_between(alice, bob)
        assert other.id in await blocked_ids(me)


async def test_block_racing_an_ask_back_never_leaves_friends(users: UserFactory) -> None:
    """The blocked user asking back while being blocked: no 5xx, and no friendship or request."""
    for alice, mallory in await distinct_pairs(users, 10):
        await send_friend_request(alice, mallory)

        asked, blocked = await asyncio.gather(ask(mallory, alice.id), block(alice, mallory.id))

        assert blocked.status_code == 204, blocked.text
        assert asked.status_code in {200, 403}, asked.text
        assert mallory.id not in await friend_ids(alice)
        assert alice.id not in await friend_ids(mallory)
        assert await no_requests_between(alice, mallory)


async def test_block_racing_a_new_request_never_leaves_a_request(users: UserFactory) -> None:
    """The blocked user asking while being blocked: no 5xx, and no request survives the block."""
    for alice, mallory in await distinct_pairs(users, 10):
        asked, blocked = await asyncio.gather(ask(mallory, alice.id), block(alice, mallory.id))

        assert blocked.status_code == 204, blocked.text
        assert asked.status_code in {201, 403}, asked.text
        assert await no_requests_between(alice, mallory)


async def test_simultaneous_blocks_of_one_user_list_it_once(users: UserFactory) -> None:
    """The same block sent twice at once: both 204, and the user is listed once."""
    for alice, mallory in await distinct_pairs(users, 10):
        responses = await asyncio.gather(block(alice, mallory.id), block(alice, mallory.id))

        assert [r.status_code for r in responses] == [204, 204], [r.text for r in responses]
        assert (await blocked_ids(alice)).count(mallory.id) == 1
