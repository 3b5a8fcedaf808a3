"""Abuse of the real-time side: floods, too many sockets, foreign sites.

Each user has one token bucket (GKCHAT_SEND_RATE per second, GKCHAT_SEND_BURST at most) that
every WebSocket frame and every REST send draws from. A frame over the limit is answered with
an ``error`` frame ``rate_limited`` and is not processed; the socket stays open. The tests use
a refill so slow (one token per 100 s) that no token comes back while they run.
"""

from typing import Any

from tests.conftest import ServerStarter
from tests.support.api_errors import assert_error
from tests.support.factories import UserFactory
from tests.support.server import RunningServer
from tests.support.ws import Frame, WsClient, befriended, expect_refused, open_ws, send_rest

BURST = 4
SLOW_REFILL = 0.01  # tokens per second
CLOSE_TOO_MANY_CONNECTIONS = 4429


async def limited_server(start_server: ServerStarter, **overrides: Any) -> RunningServer:
    """A server with rate limits on and a bucket of BURST tokens that barely refills."""
    return await start_server(
        rate_limits=True, send_rate=SLOW_REFILL, send_burst=BURST, **overrides
    )


async def pongs_and_errors(ws: WsClient, count: int) -> tuple[int, list[Frame]]:
    """Read until ``count`` answers (pong or error) have come; return the pongs and errors."""
    pongs, errors = 0, list[Frame]()
    while pongs + len(errors) < count:
        body = await ws.recv_json()
        if body["type"] == "pong":
            pongs += 1
        elif body["type"] == "error":
            errors.append(body)
    return pongs, errors


async def test_frames_over_the_burst_get_rate_limited_errors(start_server: ServerStarter) -> None:
    """Of BURST + 3 pings sent at once, BURST are answered and 3 get error rate_limited."""
    server = await limited_server(start_server)
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        async with open_ws(server, alice.token) as ws:
            for _ in range(BURST + 3):
                await ws.send_json({"type": "ping"})
            pongs, errors = await pongs_and_errors(ws, BURST + 3)

    assert pongs == BURST
    assert [e["data"]["code"] for e in errors] == ["rate_limited"] * 3


async def test_rate_limited_error_says_when_to_retry(start_server: ServerStarter) -> None:
    """The rate_limited error frame carries retry_after, a positive number of seconds."""
    server = await limited_server(start_server)
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        async with open_ws(server, alice.token) as ws:
            for _ in range(BURST + 1):
                await ws.send_json({"type": "ping"})
            _, [error] = await pongs_and_errors(ws, BURST + 1)

    assert isinstance(error["data"]["retry_after"], int | float)
    assert error["data"]["retry_after"] > 0


async def test_rate_limited_send_is_not_stored(start_server: ServerStarter) -> None:
    """A message.send over the limit gets an error echoing its client_id and is not stored."""
    server = await limited_server(start_server)
    async with UserFactory(server.api_url) as users:
        alice, bob = await befriended(users)
        async with open_ws(server, alice.token) as ws:
            for _ in range(BURST):
                await ws.send_json({"type": "ping"})
            await ws.send_message(bob.id, "one too many", "c-over")
            error = await ws.recv_until("error")
        history = await bob.get(f"/conversations/{alice.id}/messages")

    assert error["data"] == {
        "code": "rate_limited",
        "message": error["data"]["message"],
        "client_id": "c-over",
        "retry_after": error["data"]["retry_after"],
    }
    assert history.json()["messages"] == []


async def test_rate_limited_socket_stays_open(start_server: ServerStarter) -> None:
    """After being rate limited the socket still gets the user's events."""
    server = await limited_server(start_server)
    async with UserFactory(server.api_url) as users:
        alice, bob = await befriended(users)
        async with open_ws(server, alice.token) as ws:
            for _ in range(BURST + 2):
                await ws.send_json({"type": "ping"})
            await pongs_and_errors(ws, BURST + 2)
            sent = await send_rest(bob, alice.id, "you still hear me")
            delivered = await ws.recv_until("message.created")

    assert delivered["data"]["message"]["id"] == sent["id"]


async def test_the_bucket_is_shared_by_the_users_sockets(start_server: ServerStarter) -> None:
    """Two sockets of one user share one bucket: BURST answers between them, not each."""
    server = await limited_server(start_server)
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        async with open_ws(server, alice.token) as one, open_ws(server, alice.token) as two:
            for _ in range(BURST):
                await one.send_json({"type": "ping"})
            first, _ = await pongs_and_errors(one, BURST)
            for _ in range(BURST):
                await two.send_json({"type": "ping"})
            second, errors = await pongs_and_errors(two, BURST)

    assert (first, second) == (BURST, 0)
    assert len(errors) == BURST


async def test_one_users_flood_does_not_limit_another(start_server: ServerStarter) -> None:
    """While Alice is rate limited, Bob's frames are answered as usual."""
    server = await limited_server(start_server)
    async with UserFactory(server.api_url) as users:
        alice, bob = await befriended(users)
        async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
            for _ in range(BURST + 3):
                await a_ws.send_json({"type": "ping"})
            await pongs_and_errors(a_ws, BURST + 3)
            assert await b_ws.ping() == []


async def test_rest_sends_over_the_limit_get_429(start_server: ServerStarter) -> None:
    """POST /messages beyond the bucket is 429 rate_limited with a Retry-After header."""
    server = await limited_server(start_server)
    async with UserFactory(server.api_url) as users:
        alice, bob = await befriended(users)
        for i in range(BURST):
            await send_rest(alice, bob.id, f"message {i}")
        response = await alice.client.post(
            "/messages", json={"recipient_id": bob.id, "content": "one too many"}
        )

    assert_error(response, 429, "rate_limited")
    assert int(response.headers["retry-after"]) >= 1


async def test_rest_and_websocket_share_the_bucket(start_server: ServerStarter) -> None:
    """Frames on the socket use up the bucket that REST sends draw from too."""
    server = await limited_server(start_server)
    async with UserFactory(server.api_url) as users:
        alice, bob = await befriended(users)
        async with open_ws(server, alice.token) as ws:
            for _ in range(BURST):
                await ws.send_json({"type": "ping"})
            await pongs_and_errors(ws, BURST)
            response = await alice.client.post(
                "/messages", json={"recipient_id": bob.id, "content": "over REST"}
            )

    assert_error(response, 429, "rate_limited")


async def test_no_frame_limit_when_rate_limits_are_off(start_server: ServerStarter) -> None:
    """With GKCHAT_RATE_LIMITS=off, many more frames than the burst are all answered."""
    server = await start_server(rate_limits=False, send_rate=SLOW_REFILL, send_burst=BURST)
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        async with open_ws(server, alice.token) as ws:
            for _ in range(BURST * 5):
                await ws.send_json({"type": "ping"})
            pongs, errors = await pongs_and_errors(ws, BURST * 5)

    assert (pongs, errors) == (BURST * 5, [])


async def test_a_connection_over_the_cap_closes_the_oldest(start_server: ServerStarter) -> None:
    """With a cap of 2 sockets per user, a third closes the oldest with 4429."""
    server = await start_server(ws_max_connections_per_user=2)
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        # Sockets are ordered by when they signed in: the first is pinged (so signed in)
        # before the second opens, or the two sign-ins could finish in either order.
        async with open_ws(server, alice.token) as oldest:
            await oldest.ping()
            async with (
                open_ws(server, alice.token) as middle,
                open_ws(server, alice.token) as newest,
            ):
                await middle.ping()
                await newest.ping()
                await oldest.expect_closed(CLOSE_TOO_MANY_CONNECTIONS)
                assert await middle.ping() == []
                assert await newest.ping() == []


async def test_the_cap_counts_each_user_apart(start_server: ServerStarter) -> None:
    """Another user's sockets do not count against a user's cap."""
    server = await start_server(ws_max_connections_per_user=1)
    async with UserFactory(server.api_url) as users:
        alice, bob = await users.register(), await users.register()
        async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
            await b_ws.ping()
            assert await a_ws.ping() == []


async def test_cookie_socket_from_an_allowed_origin_signs_in(start_server: ServerStarter) -> None:
    """An origin listed in GKCHAT_ALLOWED_ORIGINS may open a cookie-authenticated socket."""
    server = await start_server(allowed_origins=["https://app.example"])
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        async with open_ws(server, cookie=alice.token, origin="https://app.example") as ws:
            assert await ws.ping() == []


async def test_cookie_socket_from_a_lookalike_origin_is_refused(
    start_server: ServerStarter,
) -> None:
    """An origin that only resembles an allowed one is refused (4403 or at the handshake)."""
    server = await start_server(allowed_origins=["https://app.example"])
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        await expect_refused(
            server,
            cookie=alice.token,
            origin="https://app.example.evil.test",
            close_codes=(4403,),
            statuses=(403,),
        )
