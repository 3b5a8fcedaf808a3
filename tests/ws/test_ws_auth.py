"""Signing in to the WebSocket: the contract's "Real time" authentication.

A socket authenticates with the Authorization header, the session cookie (Origin-checked) or a
first ``auth`` frame; a bad, missing or expired token closes it with 4401 (or the handshake is
refused with 401). A socket that is signed in answers ``ping`` with ``pong``; one that is not
would take the ping as its (failed) first frame and be closed instead.
"""

import asyncio
from datetime import timedelta

import httpx
import pytest

from tests.conftest import ServerStarter
from tests.support.clock import FakeClock
from tests.support.factories import UserFactory, registration
from tests.support.logs import server_errors
from tests.support.server import RunningServer
from tests.support.ws import (
    CLOSE_UNAUTHENTICATED,
    SESSION_COOKIE,
    expect_refused,
    host_origin,
    open_ws,
)

SESSION_IDLE_TIMEOUT = timedelta(days=7)
CLOSE_INVALID_UTF8 = 1007


async def register_for_cookie(server: RunningServer) -> str:
    """Sign up the way a browser does and return the session cookie it was given."""
    async with httpx.AsyncClient(base_url=server.api_url) as browser:
        response = await browser.post("/auth/register", json=registration())
    assert response.status_code == 201, response.text
    cookie = response.cookies.get(SESSION_COOKIE)
    assert cookie, response.headers
    return cookie


async def test_authorization_header_signs_the_socket_in(
    server: RunningServer, users: UserFactory
) -> None:
    """A Bearer token in the Authorization header authenticates the socket."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        assert await ws.ping() == []


async def test_session_cookie_without_origin_signs_the_socket_in(server: RunningServer) -> None:
    """The session cookie from sign-up authenticates a socket that sends no Origin."""
    cookie = await register_for_cookie(server)

    async with open_ws(server, cookie=cookie) as ws:
        assert await ws.ping() == []


async def test_session_cookie_from_the_same_host_signs_the_socket_in(
    server: RunningServer,
) -> None:
    """A cookie-authenticated socket whose Origin is the server's own host is accepted."""
    cookie = await register_for_cookie(server)

    async with open_ws(server, cookie=cookie, origin=host_origin(server)) as ws:
        assert await ws.ping() == []


async def test_session_cookie_from_a_foreign_origin_is_refused(server: RunningServer) -> None:
    """A cookie-authenticated socket from another site is refused (4403 or at the handshake)."""
    cookie = await register_for_cookie(server)

    await expect_refused(
        server,
        cookie=cookie,
        origin="http://evil.example",
        close_codes=(4403,),
        statuses=(403,),
    )


async def test_first_frame_auth_signs_the_socket_in(
    server: RunningServer, users: UserFactory
) -> None:
    """A first frame {"type": "auth", "token": ...} authenticates a socket with no header."""
    alice = await users.register()

    async with open_ws(server, first_frame_token=alice.token) as ws:
        assert await ws.ping() == []


async def test_no_auth_within_the_auth_timeout_closes_4401(
    start_server: ServerStarter,
) -> None:
    """A socket that sends no credentials within ws_auth_timeout is closed with 4401."""
    server = await start_server(ws_auth_timeout=1)

    async with open_ws(server) as ws:
        frames = await ws.expect_closed(CLOSE_UNAUTHENTICATED, timeout=5)

    assert frames == []


async def test_first_frame_that_is_not_auth_closes_4401(server: RunningServer) -> None:
    """An unauthenticated socket whose first frame is not an auth frame is closed with 4401."""
    async with open_ws(server) as ws:
        await ws.send_json({"type": "ping"})
        frames = await ws.expect_closed(CLOSE_UNAUTHENTICATED)

    assert frames == []


async def test_auth_frame_whose_data_is_not_an_object_closes_4401(server: RunningServer) -> None:
    """{"type": "auth", "data": <not an object>} is a failed sign-in, not a server error."""
    for data in ([1], "a-token", 7, True):
        async with open_ws(server) as ws:
            await ws.send_json({"type": "auth", "data": data})
            frames = await ws.expect_closed(CLOSE_UNAUTHENTICATED)

        assert frames == []


async def test_socket_that_hangs_up_before_signing_in_logs_no_server_error(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A client that leaves before its auth frame (closing, or sending text that is not UTF-8,
    which closes with 1007) is let go quietly: nothing at ERROR in the server's log."""
    with server_errors(caplog) as errors:
        async with open_ws(server) as ws:
            await ws.close()
        async with open_ws(server) as ws:
            await ws.connection.send(b"\xff\xfe", text=True)
            await ws.expect_closed(CLOSE_INVALID_UTF8)
        await asyncio.sleep(0.5)  # the server's side of both sockets has ended by now

    assert errors == []


async def test_bad_header_token_is_refused(server: RunningServer) -> None:
    """An unknown Bearer token closes the socket with 4401 (or gets a 401 handshake)."""
    await expect_refused(server, "not-a-real-token")


async def test_bad_first_frame_token_is_refused(server: RunningServer) -> None:
    """An unknown token in the first auth frame closes the socket with 4401."""
    await expect_refused(server, first_frame_token="not-a-real-token")


async def test_bad_cookie_is_refused(server: RunningServer) -> None:
    """An unknown session cookie closes the socket with 4401 (or gets a 401 handshake)."""
    await expect_refused(server, cookie="not-a-real-token")


async def test_expired_session_is_refused(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """The token of a session unused for longer than the idle timeout is refused with 4401."""
    alice = await users.register()
    clock.advance(SESSION_IDLE_TIMEOUT + timedelta(seconds=1))

    await expect_refused(server, alice.token)


async def test_logged_out_token_is_refused(server: RunningServer, users: UserFactory) -> None:
    """The token of a session that logged out cannot open a socket."""
    alice = await users.register()
    response = await alice.client.post("/auth/logout")
    assert response.status_code == 204, response.text

    await expect_refused(server, alice.token)


async def test_auth_frame_on_a_signed_in_socket_is_an_error(
    server: RunningServer, users: UserFactory
) -> None:
    """A second auth frame gets an error frame and the socket stays signed in."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        await ws.send_json({"type": "auth", "token": alice.token})
        before_pong = await ws.ping()

    assert [f["type"] for f in before_pong] == ["error"], before_pong
