"""Friend requests: send, ask back, accept, decline, cancel and list (the contract's "Friends")."""

import asyncio
import base64
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gkchat.db.tables import friendships
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
# Well formed, but no user or request ever gets it (ids embed their creation time).
UNKNOWN_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


async def ask(sender: SignedInUser, user_id: str) -> httpx.Response:
    return await sender.client.post("/friend-requests", json={"user_id": user_id})


async def pending(user: SignedInUser, direction: str) -> list[dict[str, Any]]:
    """Every pending request of ``user`` in ``direction`` (one page of up to 200)."""
    response = await user.get("/friend-requests", params={"direction": direction, "limit": 200})
    assert response.status_code == 200, response.text
    requests: list[dict[str, Any]] = response.json()["requests"]
    return requests


async def pending_ids(user: SignedInUser, direction: str) -> list[str]:
    return [request["id"] for request in await pending(user, direction)]


async def requests_between(a: SignedInUser, b: SignedInUser) -> list[dict[str, Any]]:
    """Every pending request between ``a`` and ``b`` in any of their four lists."""
    found = []
    for me, other in ((a, b), (b, a)):
        for request in await pending(me, "incoming"):
            if request["from_user"]["id"] == other.id:
                found.append(request)
        for request in await pending(me, "outgoing"):
            if request["to_user"]["id"] == other.id:
                found.append(request)
    return found


async def no_requests_between(a: SignedInUser, b: SignedInUser) -> bool:
    """True when neither user has a pending request to or from the other."""
    return await requests_between(a, b) == []


async def friend_ids(user: SignedInUser) -> list[str]:
    response = await user.get("/friends", params={"limit": 200})
    assert response.status_code == 200, response.text
    return [friend["user"]["id"] for friend in response.json()["friends"]]


async def pages(user: SignedInUser, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Follow ``next_before`` from the first page of /friend-requests to the last."""
    bodies: list[dict[str, Any]] = []
    before: str | None = None
    while True:
        query = params if before is None else {**params, "before": before}
        response = await user.get("/friend-requests", params=query)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        before = bodies[-1]["next_before"]
        if before is None:
            return bodies
        assert len(bodies) < 50, "next_before never became null"


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# Sending


async def test_send_answers_201_with_the_request(server: RunningServer, users: UserFactory) -> None:
    """A request answers 201 with its id, both public users and when it was made."""
    alice, bob = await users.register(), await users.register()

    response = await ask(alice, bob.id)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"request"}
    request = body["request"]
    assert set(request) == {"id", "from_user", "to_user", "created_at"}
    assert isinstance(request["id"], str)
    assert request["id"]
    assert parse_utc(request["created_at"]) == server.clock.now()
    assert request["from_user"]["id"] == alice.id
    assert request["from_user"]["username"] == alice.username
    assert request["to_user"]["id"] == bob.id
    assert request["to_user"]["username"] == bob.username


async def test_send_shows_only_public_users(users: UserFactory) -> None:
    """Neither user in a request carries an email, nor anything beyond the public fields."""
    alice, bob = await users.register(), await users.register()

    request = (await ask(alice, bob.id)).json()["request"]

    assert set(request["from_user"]) == PUBLIC_USER_KEYS
    assert set(request["to_user"]) == PUBLIC_USER_KEYS
    parse_utc(request["from_user"]["created_at"])
    parse_utc(request["to_user"]["created_at"])


async def test_recipient_sees_the_request_as_incoming(users: UserFactory) -> None:
    """The recipient lists the request, exactly as it was returned, among incoming ones."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    assert await pending(bob, "incoming") == [request]
    assert await pending(bob, "outgoing") == []


async def test_sender_sees_the_request_as_outgoing(users: UserFactory) -> None:
    """The sender lists the request among outgoing ones, not incoming ones."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    assert await pending(alice, "outgoing") == [request]
    assert await pending(alice, "incoming") == []


async def test_request_list_defaults_to_incoming(users: UserFactory) -> None:
    """Without ``direction`` the list holds the requests addressed to the caller."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    to_bob = await bob.get("/friend-requests")
    from_alice = await alice.get("/friend-requests")

    assert to_bob.status_code == 200, to_bob.text
    assert to_bob.json()["requests"] == [request]
    assert to_bob.json()["next_before"] is None
    assert from_alice.status_code == 200, from_alice.text
    assert from_alice.json()["requests"] == []


@pytest.mark.parametrize("direction", ["garbage", "", "INCOMING", "both"])
async def test_request_list_refuses_an_unknown_direction(
    users: UserFactory, direction: str
) -> None:
    """``direction`` other than incoming or outgoing is 422."""
    alice = await users.register()

    response = await alice.get("/friend-requests", params={"direction": direction})

    assert_error(response, 422)


async def test_request_does_not_make_friends(users: UserFactory) -> None:
    """A pending request is not a friendship yet."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)

    assert await friend_ids(alice) == []
    assert await friend_ids(bob) == []


# Asking back


async def test_asking_back_accepts_the_pending_request(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """Asking someone who already asked you answers 200 with the friendship, seen from you."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)
    clock.advance(seconds=5)

    response = await ask(bob, alice.id)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"friendship"}
    assert set(body["friendship"]) == {"user", "since"}
    assert body["friendship"]["user"]["id"] == alice.id
    assert body["friendship"]["user"]["username"] == alice.username
    assert set(body["friendship"]["user"]) == PUBLIC_USER_KEYS
    assert parse_utc(body["friendship"]["since"]) == server.clock.now()


async def test_asking_back_leaves_no_pending_request(users: UserFactory) -> None:
    """After asking back, neither user has a pending request in either direction."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)

    await ask(bob, alice.id)

    assert await no_requests_between(alice, bob)


async def test_asking_back_makes_both_friends(users: UserFactory) -> None:
    """After asking back, each user lists the other as a friend."""
    alice, bob = await users.register(), await users.register()
    await send_friend_request(alice, bob)

    await ask(bob, alice.id)

    assert await friend_ids(alice) == [bob.id]
    assert await friend_ids(bob) == [alice.id]


# Accepting


async def test_accept_answers_200_with_the_friendship(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """Accepting answers 200 with the sender as the friend, friends since the acceptance."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    clock.advance(seconds=5)

    response = await bob.client.post(f"/friend-requests/{request['id']}/accept")

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"friendship"}
    assert set(body["friendship"]) == {"user", "since"}
    assert body["friendship"]["user"]["id"] == alice.id
    assert body["friendship"]["user"]["username"] == alice.username
    assert set(body["friendship"]["user"]) == PUBLIC_USER_KEYS
    assert parse_utc(body["friendship"]["since"]) == server.clock.now()


async def test_accept_makes_both_friends(users: UserFactory) -> None:
    """After an accept, each user lists the other as a friend."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    await bob.client.post(f"/friend-requests/{request['id']}/accept")

    assert await friend_ids(alice) == [bob.id]
    assert await friend_ids(bob) == [alice.id]


async def test_accept_removes_the_request(users: UserFactory) -> None:
    """An accepted request is no longer pending for either user."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    await bob.client.post(f"/friend-requests/{request['id']}/accept")

    assert await no_requests_between(alice, bob)


async def test_accepting_twice_is_404(users: UserFactory) -> None:
    """A request that was accepted cannot be accepted again."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    await bob.client.post(f"/friend-requests/{request['id']}/accept")

    response = await bob.client.post(f"/friend-requests/{request['id']}/accept")

    assert_error(response, 404)


# Declining


async def test_decline_answers_204(users: UserFactory) -> None:
    """The recipient declines with 204 and an empty body."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    response = await bob.client.post(f"/friend-requests/{request['id']}/decline")

    assert response.status_code == 204, response.text
    assert response.content == b""


async def test_decline_removes_the_request_for_both(users: UserFactory) -> None:
    """A declined request is gone from the sender's and the recipient's lists."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    await bob.client.post(f"/friend-requests/{request['id']}/decline")

    assert await no_requests_between(alice, bob)


async def test_decline_does_not_make_friends(users: UserFactory) -> None:
    """Declining leaves the two users strangers."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    await bob.client.post(f"/friend-requests/{request['id']}/decline")

    assert await friend_ids(alice) == []
    assert await friend_ids(bob) == []


async def test_sender_may_ask_again_after_a_decline(users: UserFactory) -> None:
    """A declined request leaves nothing pending, so asking again is a new request (201)."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    await bob.client.post(f"/friend-requests/{request['id']}/decline")

    response = await ask(alice, bob.id)

    assert response.status_code == 201, response.text
    assert response.json()["request"]["id"] != request["id"]


# Cancelling


async def test_cancel_answers_204(users: UserFactory) -> None:
    """The sender withdraws a request with DELETE: 204 and an empty body."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    response = await alice.client.delete(f"/friend-requests/{request['id']}")

    assert response.status_code == 204, response.text
    assert response.content == b""


async def test_cancel_removes_the_request_for_both(users: UserFactory) -> None:
    """A cancelled request is gone from the sender's and the recipient's lists."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    await alice.client.delete(f"/friend-requests/{request['id']}")

    assert await no_requests_between(alice, bob)


async def test_accept_after_the_sender_cancelled_is_404(users: UserFactory) -> None:
    """Once the sender has cancelled, the recipient can no longer accept."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    await alice.client.delete(f"/friend-requests/{request['id']}")

    response = await bob.client.post(f"/friend-requests/{request['id']}/accept")

    assert_error(response, 404)
    assert await friend_ids(bob) == []


async def test_decline_after_the_sender_cancelled_is_404(users: UserFactory) -> None:
    """Once the sender has cancelled, the recipient can no longer decline."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    await alice.client.delete(f"/friend-requests/{request['id']}")

    response = await bob.client.post(f"/friend-requests/{request['id']}/decline")

    assert_error(response, 404)


async def test_cancel_after_an_accept_is_404(users: UserFactory) -> None:
    """An accepted request cannot be withdrawn, and the friendship stays."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    await bob.client.post(f"/friend-requests/{request['id']}/accept")

    response = await alice.client.delete(f"/friend-requests/{request['id']}")

    assert_error(response, 404)
    assert await friend_ids(alice) == [bob.id]


async def test_cancelling_twice_is_404(users: UserFactory) -> None:
    """A request that was withdrawn cannot be withdrawn again."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    await alice.client.delete(f"/friend-requests/{request['id']}")

    response = await alice.client.delete(f"/friend-requests/{request['id']}")

    assert_error(response, 404)


# Forbidden requests


async def test_request_to_yourself_is_422(users: UserFactory) -> None:
    """Nobody can befriend themself, and nothing is created."""
    alice = await users.register()

    response = await ask(alice, alice.id)

    assert_error(response, 422)
    assert await pending(alice, "outgoing") == []


@pytest.mark.parametrize(
    "user_id",
    [UNKNOWN_ID, "nobody", "", "0" * 27, UNKNOWN_ID.lower(), "../me", "x" * 1000],
    ids=["unknown", "word", "empty", "too-long", "lowercase", "path", "huge"],
)
async def test_request_to_a_missing_user_is_404(users: UserFactory, user_id: str) -> None:
    """A user id that does not exist or is malformed is 404 user_not_found."""
    alice = await users.register()

    response = await ask(alice, user_id)

    assert_error(response, 404, "user_not_found")
    assert await pending(alice, "outgoing") == []


async def test_request_to_a_disabled_user_is_404(server: RunningServer, users: UserFactory) -> None:
    """A disabled account cannot be asked: 404 user_not_found, as if it did not exist."""
    alice, bob = await users.register(), await users.register()
    await server.app.state.services.accounts.set_disabled(bob.username, disabled=True)

    response = await ask(alice, bob.id)

    assert_error(response, 404, "user_not_found")
    assert await pending(alice, "outgoing") == []


@pytest.mark.parametrize(
    "body",
    [{}, {"user_id": None}, {"user_id": 42}, {"user_id": ["x"]}, {"id": "x"}],
    ids=["empty", "null", "number", "list", "wrong-field"],
)
async def test_request_without_a_user_id_string_is_422(
    users: UserFactory, body: dict[str, Any]
) -> None:
    """The body must carry ``user_id`` as a string."""
    alice = await users.register()

    response = await alice.client.post("/friend-requests", json=body)

    assert_error(response, 422)


async def test_second_request_while_one_is_pending_is_409(users: UserFactory) -> None:
    """Asking the same person again while the first request is pending is 409 request_exists."""
    alice, bob = await users.register(), await users.register()
    request = await send_friend_request(alice, bob)

    response = await ask(alice, bob.id)

    assert_error(response, 409, "request_exists")
    assert await pending(bob, "incoming") == [request]


@pytest.mark.parametrize("asker", ["sender", "recipient"])
async def test_request_between_friends_is_409(users: UserFactory, asker: str) -> None:
    """Asking a friend, whoever asked first back then, is 409 already_friends."""
    alice, bob = await users.register(), await users.register()
    await befriend(alice, bob)
    me, other = (alice, bob) if asker == "sender" else (bob, alice)

    response = await ask(me, other.id)

    assert_error(response, 409, "already_friends")
    assert await no_requests_between(alice, bob)


@pytest.mark.parametrize("action", ["accept", "decline"])
@pytest.mark.parametrize("actor", ["sender", "stranger"])
async def test_only_the_recipient_may_answer_a_request(
    users: UserFactory, action: str, actor: str
) -> None:
    """The sender or a third user accepting or declining gets 404, and the request stays."""
    alice, bob, carol = await users.register(), await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    caller = alice if actor == "sender" else carol

    response = await caller.client.post(f"/friend-requests/{request['id']}/{action}")

    assert_error(response, 404)
    assert await pending(bob, "incoming") == [request]
    assert await friend_ids(alice) == []


@pytest.mark.parametrize("actor", ["recipient", "stranger"])
async def test_only_the_sender_may_cancel_a_request(users: UserFactory, actor: str) -> None:
    """The recipient or a third user cancelling gets 404, and the request stays."""
    alice, bob, carol = await users.register(), await users.register(), await users.register()
    request = await send_friend_request(alice, bob)
    caller = bob if actor == "recipient" else carol

    response = await caller.client.delete(f"/friend-requests/{request['id']}")

    assert_error(response, 404)
    assert await pending(bob, "incoming") == [request]


@pytest.mark.parametrize(
    ("method", "suffix"), [("POST", "/accept"), ("POST", "/decline"), ("DELETE", "")]
)
@pytest.mark.parametrize(
    "request_id", [UNKNOWN_ID, "nope", "0" * 27, "%20"], ids=["unknown", "word", "long", "space"]
)
async def test_a_missing_request_is_404(
    users: UserFactory, method: str, suffix: str, request_id: str
) -> None:
    """Answering or cancelling a request id that does not exist or is malformed is 404."""
    alice = await users.register()

    response = await alice.client.request(method, f"/friend-requests/{request_id}{suffix}")

    assert_error(response, 404)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/friend-requests", {"user_id": UNKNOWN_ID}),
        ("GET", "/friend-requests", None),
        ("GET", "/friend-requests?direction=outgoing", None),
        ("POST", f"/friend-requests/{UNKNOWN_ID}/accept", None),
        ("POST", f"/friend-requests/{UNKNOWN_ID}/decline", None),
        ("DELETE", f"/friend-requests/{UNKNOWN_ID}", None),
    ],
)
async def test_friend_requests_need_authentication(
    anon: httpx.AsyncClient, method: str, path: str, body: dict[str, str] | None
) -> None:
    """Every friend-request call without credentials is 401."""
    response = await anon.request(method, path, json=body)

    assert_error(response, 401)


async def test_a_dead_session_cannot_send_requests(users: UserFactory) -> None:
    """After logging out, the old token gets 401 and no request is made."""
    alice, bob = await users.register(), await users.register()
    await alice.client.post("/auth/logout")

    response = await ask(alice, bob.id)

    assert_error(response, 401)
    assert await pending(bob, "incoming") == []


# Pagination


async def test_requests_are_listed_newest_first(users: UserFactory, clock: FakeClock) -> None:
    """Incoming and outgoing requests come newest first."""
    me = await users.register()
    sent = []
    received = []
    for _ in range(3):
        sent.append(await send_friend_request(me, await users.register()))
        clock.advance(seconds=1)
        received.append(await send_friend_request(await users.register(), me))
        clock.advance(seconds=1)

    assert await pending_ids(me, "outgoing") == [r["id"] for r in reversed(sent)]
    assert await pending_ids(me, "incoming") == [r["id"] for r in reversed(received)]


@pytest.mark.parametrize("direction", ["incoming", "outgoing"])
async def test_request_pages_chain_without_gaps_or_repeats(
    users: UserFactory, clock: FakeClock, direction: str
) -> None:
    """Following next_before with limit=3 over 7 requests yields each once, newest first."""
    me = await users.register()
    created = []
    for _ in range(7):
        other = await users.register()
        pair = (me, other) if direction == "outgoing" else (other, me)
        created.append(await send_friend_request(*pair))
        clock.advance(seconds=1)

    bodies = await pages(me, {"direction": direction, "limit": 3})

    assert [len(body["requests"]) for body in bodies] == [3, 3, 1]
    assert [body["next_before"] is None for body in bodies] == [False, False, True]
    listed = [request["id"] for body in bodies for request in body["requests"]]
    assert listed == [request["id"] for request in reversed(created)]


async def test_request_pages_chain_when_times_are_equal(users: UserFactory) -> None:
    """Requests made at the same instant are still each listed exactly once across pages."""
    me = await users.register()
    created = [await send_friend_request(await users.register(), me) for _ in range(7)]

    bodies = await pages(me, {"limit": 3})

    listed = [request["id"] for body in bodies for request in body["requests"]]
    assert sorted(listed) == sorted(request["id"] for request in created)
    assert len(bodies) == 3


async def test_a_full_last_request_page_has_no_next_before(
    users: UserFactory, clock: FakeClock
) -> None:
    """When the page holds the oldest request, next_before is null even if the page is full."""
    me = await users.register()
    for _ in range(3):
        await send_friend_request(await users.register(), me)
        clock.advance(seconds=1)

    response = await me.get("/friend-requests", params={"limit": 3})

    assert response.status_code == 200, response.text
    assert len(response.json()["requests"]) == 3
    assert response.json()["next_before"] is None


@pytest.mark.parametrize("limit", [201, 1000, 10**12])
async def test_a_request_limit_over_200_is_clamped_not_refused(
    users: UserFactory, limit: int
) -> None:
    """A limit larger than 200 is accepted (clamped), not an error."""
    me = await users.register()
    created = [await send_friend_request(await users.register(), me) for _ in range(3)]

    response = await me.get("/friend-requests", params={"limit": limit})

    assert response.status_code == 200, response.text
    assert sorted(r["id"] for r in response.json()["requests"]) == sorted(r["id"] for r in created)
    assert response.json()["next_before"] is None


@pytest.mark.parametrize("limit", ["0", "-1", "ten", "1.5", ""])
async def test_an_invalid_request_limit_is_422(users: UserFactory, limit: str) -> None:
    """A limit that is not a positive integer is 422."""
    me = await users.register()

    response = await me.get("/friend-requests", params={"limit": limit})

    assert_error(response, 422)


@pytest.mark.parametrize(
    "before",
    [
        "garbage",
        "!!!",
        cursor("not a time|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        cursor("2024-01-01T00:00:00|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        cursor("2024-01-01T00:00:00+00:00|"),
        cursor("2024-01-01T00:00:00+00:00"),
        cursor("0001-01-01T00:00:00+01:00|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        cursor("9999-12-31T23:59:59-01:00|01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        cursor("2024-01-01T00:00:00+00:00|\x00"),
        "x" * 600,
    ],
    ids=[
        "word",
        "punctuation",
        "not-a-time",
        "naive-time",
        "no-id",
        "no-separator",
        "before-year-1-in-utc",
        "after-year-9999-in-utc",
        "nul-in-id",
        "huge",
    ],
)
async def test_an_invalid_request_cursor_is_422(users: UserFactory, before: str) -> None:
    """A ``before`` that is not a cursor the server gave out is 422, never a 5xx."""
    me = await users.register()

    response = await me.get("/friend-requests", params={"before": before})

    assert_error(response, 422)


# Concurrency


async def test_simultaneous_mutual_requests_make_exactly_one_friendship(
    users: UserFactory,
) -> None:
    """Two users asking each other at the same moment end as friends once, with no request left."""
    for alice, bob in await distinct_pairs(users, 10):
        responses = await asyncio.gather(ask(alice, bob.id), ask(bob, alice.id))

        assert sorted(r.status_code for r in responses) == [200, 201], [r.text for r in responses]
        assert (await friend_ids(alice)).count(bob.id) == 1
        assert (await friend_ids(bob)).count(alice.id) == 1
        assert await no_requests_between(alice, bob)


async def test_simultaneous_mutual_requests_store_one_friendship_row(
    server: RunningServer, users: UserFactory
) -> None:
    """However the race between mutual requests goes, each pair is stored once."""
    pairs = await distinct_pairs(users, 10)
    for alice, bob in pairs:
        await asyncio.gather(ask(alice, bob.id), ask(bob, alice.id))

    async with server.app.state.services.db.read() as conn:
        rows = (await conn.execute(select(friendships.c.user_id1, friendships.c.user_id2))).all()

    assert sorted(tuple(sorted(row)) for row in rows) == sorted(
        tuple(sorted((alice.id, bob.id))) for alice, bob in pairs
    )


async def test_simultaneous_duplicate_requests_make_one_request(users: UserFactory) -> None:
    """The same request sent twice at once is created once; the other answer is 409."""
    for alice, bob in await distinct_pairs(users, 10):
        responses = await asyncio.gather(ask(alice, bob.id), ask(alice, bob.id))

        assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
        from_alice = [r for r in await pending(bob, "incoming") if r["from_user"]["id"] == alice.id]
        assert len(from_alice) == 1


async def test_accept_racing_cancel_ends_consistently(users: UserFactory) -> None:
    """An accept and a cancel at the same moment: exactly one wins and the state matches it."""
    for alice, bob in await distinct_pairs(users, 10):
        request = await send_friend_request(alice, bob)

        accepted, cancelled = await asyncio.gather(
            bob.client.post(f"/friend-requests/{request['id']}/accept"),
            alice.client.delete(f"/friend-requests/{request['id']}"),
        )

        outcome = (accepted.status_code, cancelled.status_code)
        assert outcome in {(200, 404), (404, 204)}, (accepted.text, cancelled.text)
        times = 1 if accepted.status_code == 200 else 0
        assert (await friend_ids(alice)).count(bob.id) == times
        assert (await friend_ids(bob)).count(alice.id) == times
        assert await no_requests_between(alice, bob)


async def test_accept_racing_decline_ends_consistently(users: UserFactory) -> None:
    """The recipient accepting and declining at once: exactly one wins and the state matches."""
    for alice, bob in await distinct_pairs(users, 10):
        request = await send_friend_request(alice, bob)

        accepted, declined = await asyncio.gather(
            bob.client.post(f"/friend-requests/{request['id']}/accept"),
            bob.client.post(f"/friend-requests/{request['id']}/decline"),
        )

        outcome = (accepted.status_code, declined.status_code)
        assert outcome in {(200, 404), (404, 204)}, (accepted.text, declined.text)
        times = 1 if accepted.status_code == 200 else 0
        assert (await friend_ids(alice)).count(bob.id) == times
        assert (await friend_ids(bob)).count(alice.id) == times
        assert await no_requests_between(alice, bob)
