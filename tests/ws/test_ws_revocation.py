"""Ending sessions and friendships stops real-time traffic at once.

Logging out, revoking a session or disabling the account closes that session's sockets with
4401 (within about a second) and leaves the user's other sessions' sockets open; unfriending or
blocking stops delivery between the two.
"""

from typing import Any

from tests.support.factories import SignedInUser, UserFactory
from tests.support.server import RunningServer
from tests.support.ws import (
    CLOSE_UNAUTHENTICATED,
    Frame,
    befriended,
    open_ws,
    send_rest,
)

# "Within about a second" of the REST call returning, with some slack for a loaded machine.
REVOCATION_DEADLINE = 1.5


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
