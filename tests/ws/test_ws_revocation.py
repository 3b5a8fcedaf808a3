"""Ending sessions and friendships stops real-time traffic at once.

Logging out, revoking a session or disabling the account closes that session's sockets with
4401 within a second and leaves the user's other sessions' sockets open, as does a sign-in
that evicts the oldest session; unfriending or blocking stops delivery between the two.
Sessions that die without news reaching the server (expiry, a disable from another process)
are found by the periodic session check.
"""

from datetime import timedelta
from typing import Any

from gkchat.services.container import Services
from tests.conftest import ServerStarter
from tests.support.factories import SignedInUser, UserFactory
from tests.support.server import RunningServer
from tests.support.ws import (
    CLOSE_UNAUTHENTICATED,
    Frame,
    befriended,
    open_ws,
    send_rest,
)

# "Within a second", measured from the moment the change's REST call returned.
REVOCATION_DEADLINE = 1.0
# Sessions that die out of band are found by the periodic check: one interval plus a second.
CHECK_INTERVAL = timedelta(seconds=0.5)
CHECK_DEADLINE = CHECK_INTERVAL.total_seconds() + 1.0


async def session_ids(user: SignedInUser) -> tuple[str, list[str]]:
    """The id of the client's own session and the ids of the user's other sessions."""
    response = await user.client.get("/sessions")
    assert response.status_code == 200, response.text
    sessions: list[dict[str, Any]] = response.json()["sessions"]
    [current] = [s["id"] for s in sessions if s["current"] is True]
    return current, [s["id"] for s in sessions if s["current"] is not True]


def created(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f["type"] == "message.created"]


async def test_logout_closes_that_sessions_socket(
    server: RunningServer, users: UserFactory
) -> None:
    """POST /auth/logout closes the session's open socket with 4401."""
    alice = await users.register()

    async with open_ws(server, alice.token) as ws:
        await ws.ping()
        response = await alice.client.post("/auth/logout")
        assert response.status_code == 204, response.text
        await ws.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)


async def test_logout_leaves_the_other_sessions_socket_open(
    server: RunningServer, users: UserFactory
) -> None:
    """Logging out one session closes its socket and not the socket of another session."""
    alice = await users.register()
    phone_token = await users.login(alice.username)

    async with open_ws(server, alice.token) as laptop, open_ws(server, phone_token) as phone:
        await laptop.ping()
        await phone.ping()
        response = await alice.client.post("/auth/logout")
        assert response.status_code == 204, response.text
        await laptop.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)
        assert await phone.ping() == []


async def test_logged_out_session_gets_no_more_events(
    server: RunningServer, users: UserFactory
) -> None:
    """After logout the other session still receives messages; the closed one got none."""
    alice, bob = await befriended(users)
    phone_token = await users.login(alice.username)

    async with open_ws(server, alice.token) as laptop, open_ws(server, phone_token) as phone:
        await laptop.ping()
        await phone.ping()
        assert (await alice.client.post("/auth/logout")).status_code == 204
        after_logout = await laptop.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)
        sent = await send_rest(bob, alice.id, "are you there?")
        on_phone = await phone.recv_until("message.created")

    assert created(after_logout) == []
    assert on_phone["data"]["message"]["id"] == sent["id"]


async def test_revoking_a_session_closes_its_socket(
    server: RunningServer, users: UserFactory
) -> None:
    """DELETE /sessions/{id} closes that session's socket with 4401 and not the caller's."""
    alice = await users.register()
    phone_token = await users.login(alice.username)
    _, [phone_session] = await session_ids(alice)

    async with open_ws(server, alice.token) as laptop, open_ws(server, phone_token) as phone:
        await laptop.ping()
        await phone.ping()
        response = await alice.client.delete(f"/sessions/{phone_session}")
        assert response.status_code == 204, response.text
        await phone.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)
        assert await laptop.ping() == []


async def test_revoking_all_other_sessions_closes_their_sockets(
    server: RunningServer, users: UserFactory
) -> None:
    """DELETE /sessions closes the sockets of every other session and keeps the caller's."""
    alice = await users.register()
    phone_token = await users.login(alice.username)
    tablet_token = await users.login(alice.username)

    async with (
        open_ws(server, alice.token) as laptop,
        open_ws(server, phone_token) as phone,
        open_ws(server, tablet_token) as tablet,
    ):
        for ws in (laptop, phone, tablet):
            await ws.ping()
        response = await alice.client.delete("/sessions")
        assert response.status_code == 204, response.text
        await phone.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)
        await tablet.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)
        assert await laptop.ping() == []


async def test_revocation_closes_every_socket_of_the_session(
    server: RunningServer, users: UserFactory
) -> None:
    """Two sockets opened with the same token both close when that session ends."""
    alice = await users.register()

    async with open_ws(server, alice.token) as first, open_ws(server, alice.token) as second:
        await first.ping()
        await second.ping()
        assert (await alice.client.post("/auth/logout")).status_code == 204
        await first.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)
        await second.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)


async def test_revoking_one_users_session_leaves_other_users_sockets(
    server: RunningServer, users: UserFactory
) -> None:
    """Alice logging out does not close Bob's socket."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await a_ws.ping()
        await b_ws.ping()
        assert (await alice.client.post("/auth/logout")).status_code == 204
        await a_ws.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)
        assert await b_ws.ping() == []


async def test_disabling_the_account_closes_all_its_sockets(
    server: RunningServer, users: UserFactory
) -> None:
    """Disabling an account closes the sockets of all its sessions with 4401."""
    alice = await users.register()
    phone_token = await users.login(alice.username)

    async with open_ws(server, alice.token) as laptop, open_ws(server, phone_token) as phone:
        await laptop.ping()
        await phone.ping()
        await server.app.state.services.accounts.set_disabled(alice.username, disabled=True)
        await laptop.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)
        await phone.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)


async def test_unfriended_send_is_an_error_frame(server: RunningServer, users: UserFactory) -> None:
    """After an unfriend, A's message.send to B gets error {client_id, code: not_friends}."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws:
        response = await bob.client.delete(f"/friends/{alice.id}")
        assert response.status_code == 204, response.text
        await a_ws.send_message(bob.id, "hello?", "c-1")
        error = await a_ws.recv_until("error")

    assert error["data"]["client_id"] == "c-1"
    assert error["data"]["code"] == "not_friends"


async def test_unfriended_send_reaches_nobody(server: RunningServer, users: UserFactory) -> None:
    """After an unfriend, B's socket gets nothing from A's message.send."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        response = await alice.client.delete(f"/friends/{bob.id}")
        assert response.status_code == 204, response.text
        await a_ws.send_message(bob.id, "hello?", "c-1")
        await a_ws.recv_until("error")
        at_bob = await b_ws.ping()

    assert created(at_bob) == []
    history = await bob.get(f"/conversations/{alice.id}/messages")
    assert history.json()["messages"] == []


async def test_blocked_send_is_an_error_frame(server: RunningServer, users: UserFactory) -> None:
    """After B blocks A, A's message.send to B gets an error frame echoing its client_id."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws:
        response = await bob.client.post("/blocks", json={"user_id": alice.id})
        assert response.status_code == 204, response.text
        await a_ws.send_message(bob.id, "hello?", "c-1")
        error = await a_ws.recv_until("error")

    assert error["data"]["client_id"] == "c-1"
    assert isinstance(error["data"]["code"], str)


async def test_blocked_send_reaches_nobody(server: RunningServer, users: UserFactory) -> None:
    """After B blocks A, B's socket gets nothing from A's message.send."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        response = await bob.client.post("/blocks", json={"user_id": alice.id})
        assert response.status_code == 204, response.text
        await a_ws.send_message(bob.id, "hello?", "c-1")
        await a_ws.recv_until("error")
        at_bob = await b_ws.ping()

    assert created(at_bob) == []
    history = await bob.get(f"/conversations/{alice.id}/messages")
    assert history.json()["messages"] == []


async def test_blocker_cannot_send_to_the_blocked(
    server: RunningServer, users: UserFactory
) -> None:
    """After B blocks A, B's own message.send to A is refused too and A gets nothing."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await a_ws.ping()
        response = await bob.client.post("/blocks", json={"user_id": alice.id})
        assert response.status_code == 204, response.text
        await b_ws.send_message(alice.id, "gotcha", "c-1")
        error = await b_ws.recv_until("error")
        at_alice = await a_ws.ping()

    assert error["data"]["client_id"] == "c-1"
    assert created(at_alice) == []


async def test_unfriend_stops_typing(server: RunningServer, users: UserFactory) -> None:
    """After an unfriend, typing to the former friend is an error frame and reaches nobody."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        assert (await alice.client.delete(f"/friends/{bob.id}")).status_code == 204
        await a_ws.send_typing(bob.id)
        before_pong = await a_ws.ping()
        at_bob = await b_ws.ping()

    errors = [f for f in before_pong if f["type"] == "error"]
    assert [f["data"]["code"] for f in errors] == ["not_friends"], before_pong
    assert [f for f in at_bob if f["type"] == "typing"] == []


async def test_revoked_session_gets_no_more_events(
    server: RunningServer, users: UserFactory
) -> None:
    """After DELETE /sessions/{id} the revoked socket got nothing more; the caller's did."""
    alice, bob = await befriended(users)
    phone_token = await users.login(alice.username)
    _, [phone_session] = await session_ids(alice)

    async with open_ws(server, alice.token) as laptop, open_ws(server, phone_token) as phone:
        await laptop.ping()
        await phone.ping()
        assert (await alice.client.delete(f"/sessions/{phone_session}")).status_code == 204
        after_revoke = await phone.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)
        sent = await send_rest(bob, alice.id, "still there?")
        on_laptop = await laptop.recv_until("message.created")

    assert created(after_revoke) == []
    assert on_laptop["data"]["message"]["id"] == sent["id"]


async def test_disabled_account_gets_no_more_events(
    server: RunningServer, users: UserFactory
) -> None:
    """Once the account is disabled its sockets close and a message sent afterwards reaches
    none of them."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws:
        await a_ws.ping()
        await server.app.state.services.accounts.set_disabled(alice.username, disabled=True)
        after_disable = await a_ws.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)
        await bob.client.post("/messages", json={"recipient_id": alice.id, "content": "hi"})

    assert created(after_disable) == []
    assert not server.app.state.services.gateway.registry.is_connected(alice.id)


async def test_disabling_from_another_process_closes_the_sockets(
    start_server: ServerStarter,
) -> None:
    """`gkchat user disable` in another process (no hub between them) closes the account's
    sockets within the session check interval."""
    server = await start_server(ws_session_check_interval=CHECK_INTERVAL)
    other_process = Services.build(server.settings, server.clock)
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        async with open_ws(server, alice.token) as ws:
            await ws.ping()
            try:
                await other_process.accounts.set_disabled(alice.username, disabled=True)
            finally:
                await other_process.close()
            await ws.expect_closed(CLOSE_UNAUTHENTICATED, CHECK_DEADLINE)


async def test_evicted_session_closes_its_socket(start_server: ServerStarter) -> None:
    """A sign-in beyond GKCHAT_MAX_SESSIONS_PER_USER ends the oldest session and closes its
    socket within a second (at once, not at the next session check)."""
    server = await start_server(
        max_sessions_per_user=1, ws_session_check_interval=timedelta(hours=1)
    )
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        async with open_ws(server, alice.token) as old:
            await old.ping()
            new_token = await users.login(alice.username)
            await old.expect_closed(CLOSE_UNAUTHENTICATED, REVOCATION_DEADLINE)
            async with open_ws(server, new_token) as new:
                assert await new.ping() == []


async def test_expired_session_closes_its_socket(start_server: ServerStarter) -> None:
    """A socket whose session passes its hard expiry is closed with 4401."""
    server = await start_server(ws_session_check_interval=CHECK_INTERVAL)
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        async with open_ws(server, alice.token) as ws:
            await ws.ping()
            server.clock.advance(server.settings.session_ttl + timedelta(seconds=1))
            await ws.expect_closed(CLOSE_UNAUTHENTICATED, CHECK_DEADLINE)


async def test_live_sessions_survive_the_session_check(start_server: ServerStarter) -> None:
    """The periodic session check leaves the sockets of live sessions alone."""
    server = await start_server(ws_session_check_interval=timedelta(seconds=0.1))
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        async with open_ws(server, alice.token) as ws:
            await ws.ping()
            closed = await server.app.state.services.session_watch.check_once()
            assert closed == 0
            assert await ws.ping() == []


async def test_unfriended_rest_send_reaches_nobody(
    server: RunningServer, users: UserFactory
) -> None:
    """After an unfriend, a REST send to the former friend is 403 and their socket gets
    nothing."""
    alice, bob = await befriended(users)

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        assert (await bob.client.delete(f"/friends/{alice.id}")).status_code == 204
        response = await alice.client.post(
            "/messages", json={"recipient_id": bob.id, "content": "hello?"}
        )
        at_bob = await b_ws.ping()

    assert response.status_code == 403, response.text
    assert created(at_bob) == []


async def test_blocked_rest_send_reaches_nobody(server: RunningServer, users: UserFactory) -> None:
    """After B blocks A, A's REST send is refused and B's socket gets nothing."""
    alice, bob = await befriended(users)

    async with open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        assert (await bob.client.post("/blocks", json={"user_id": alice.id})).status_code == 204
        response = await alice.client.post(
            "/messages", json={"recipient_id": bob.id, "content": "hello?"}
        )
        at_bob = await b_ws.ping()

    assert response.status_code in (403, 404), response.text
    assert created(at_bob) == []


async def test_block_stops_typing(server: RunningServer, users: UserFactory) -> None:
    """After B blocks A, A's typing to B is an error frame and reaches nobody."""
    alice, bob = await befriended(users)

    async with open_ws(server, alice.token) as a_ws, open_ws(server, bob.token) as b_ws:
        await b_ws.ping()
        assert (await bob.client.post("/blocks", json={"user_id": alice.id})).status_code == 204
        await a_ws.send_typing(bob.id)
        before_pong = await a_ws.ping()
        at_bob = await b_ws.ping()

    assert [f["type"] for f in before_pong if f["type"] == "error"] == ["error"], before_pong
    assert [f for f in at_bob if f["type"] == "typing"] == []
