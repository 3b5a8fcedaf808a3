"""GET and DELETE /sessions, and when sessions die: the contract's "Accounts and sessions".

Defaults: a session lives at most 30 days (``session_ttl``) and dies after 7 days unused
(``session_idle_timeout``); ``last_used_at`` is written at most once a minute.
"""

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ServerStarter
from tests.support.api_errors import assert_error
from tests.support.clock import FakeClock
from tests.support.factories import SignedInUser, UserFactory
from tests.support.times import parse_utc

TTL = timedelta(days=30)
IDLE_TIMEOUT = timedelta(days=7)
SESSION_FIELDS = {"id", "created_at", "expires_at", "last_used_at", "user_agent", "current"}


async def list_sessions(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/sessions")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"sessions"}, body
    sessions: list[dict[str, Any]] = body["sessions"]
    return sessions


async def current_session(client: httpx.AsyncClient) -> dict[str, Any]:
    """The caller's own entry in GET /sessions."""
    [current] = [s for s in await list_sessions(client) if s["current"] is True]
    return current


def other_sessions(sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in sessions if s["current"] is not True]


async def second_device(users: UserFactory, user: SignedInUser) -> httpx.AsyncClient:
    """A client signed in as ``user`` through a new session."""
    return users.client(await users.login(user.username))


async def assert_alive(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")
    assert response.status_code == 200, response.text


async def assert_dead(client: httpx.AsyncClient, code: str | None = None) -> None:
    assert_error(await client.get("/me"), 401, code)


# Listing


async def test_sessions_are_listed_newest_first(users: UserFactory, clock: FakeClock) -> None:
    """GET /sessions lists the user's sessions by creation time, newest first."""
    alice = await users.register()
    created = [clock.now()]
    for _ in range(3):
        clock.advance(minutes=5)
        await users.login(alice.username)
        created.append(clock.now())

    listed = await list_sessions(alice.client)

    assert [parse_utc(s["created_at"]) for s in listed] == created[::-1]


async def test_listed_sessions_have_the_contract_fields(users: UserFactory) -> None:
    """Each session has id, created_at, expires_at, last_used_at, user_agent and current."""
    alice = await users.register()
    await users.login(alice.username)

    listed = await list_sessions(alice.client)

    assert len(listed) == 2
    for session in listed:
        assert set(session) == SESSION_FIELDS, session
        assert isinstance(session["id"], str), session
        assert session["id"], session
        assert session["user_agent"] is None or isinstance(session["user_agent"], str), session
        assert isinstance(session["current"], bool), session
    assert len({s["id"] for s in listed}) == 2


async def test_listed_times_are_rfc3339_utc(users: UserFactory, clock: FakeClock) -> None:
    """created_at, last_used_at and expires_at are RFC 3339 times in UTC."""
    alice = await users.register()
    signed_up = clock.now()

    [session] = await list_sessions(alice.client)

    assert parse_utc(session["created_at"]) == signed_up
    assert parse_utc(session["last_used_at"]) == signed_up
    assert parse_utc(session["expires_at"]) == signed_up + IDLE_TIMEOUT


async def test_user_agent_is_the_header_sent_at_sign_in(users: UserFactory) -> None:
    """A session's user_agent is the User-Agent header of the request that signed it in."""
    alice = await users.register()
    agent = "GK-Chat Phone/2.1 (Android 14; Pixel 8)"
    response = await users.sign_in(alice.username, headers={"User-Agent": agent})

    session = await current_session(users.client(response.json()["token"]))

    assert session["user_agent"] == agent


async def test_only_the_callers_session_is_current(users: UserFactory) -> None:
    """Exactly one listed session is current: the one whose token made the request."""
    alice = await users.register()
    clients = [alice.client, *[await second_device(users, alice) for _ in range(2)]]

    current_ids = []
    for client in clients:
        listed = await list_sessions(client)
        assert len(listed) == 3
        [current] = [s for s in listed if s["current"] is True]
        assert all(s["current"] is False for s in other_sessions(listed))
        current_ids.append(current["id"])

    assert len(set(current_ids)) == 3


async def test_other_users_sessions_are_not_listed(users: UserFactory) -> None:
    """A user sees only their own sessions."""
    alice = await users.register()
    bob = await users.register()
    await second_device(users, bob)

    listed = await list_sessions(alice.client)

    assert [s["id"] for s in listed] == [(await current_session(alice.client))["id"]]


# Revoking one session


async def test_deleting_a_session_ends_it(users: UserFactory) -> None:
    """DELETE /sessions/{id} answers 204; that session's token then gets 401."""
    alice = await users.register()
    phone = await second_device(users, alice)
    phone_id = (await current_session(phone))["id"]

    response = await alice.client.delete(f"/sessions/{phone_id}")

    assert response.status_code == 204, response.text
    await assert_dead(phone)


async def test_deleting_a_session_leaves_the_others(users: UserFactory) -> None:
    """Deleting one session keeps the user's other sessions alive and listed."""
    alice = await users.register()
    phone = await second_device(users, alice)
    laptop = await second_device(users, alice)
    phone_id = (await current_session(phone))["id"]
    laptop_id = (await current_session(laptop))["id"]

    response = await alice.client.delete(f"/sessions/{phone_id}")

    assert response.status_code == 204, response.text
    await assert_alive(alice.client)
    await assert_alive(laptop)
    listed_ids = {s["id"] for s in await list_sessions(alice.client)}
    assert phone_id not in listed_ids
    assert laptop_id in listed_ids


async def test_deleting_another_users_session_is_not_found(users: UserFactory) -> None:
    """Another user's session id is 404, and that session stays alive."""
    alice = await users.register()
    bob = await users.register()
    bob_session_id = (await current_session(bob.client))["id"]

    response = await alice.client.delete(f"/sessions/{bob_session_id}")

    assert_error(response, 404)
    await assert_alive(bob.client)
    assert [s["id"] for s in await list_sessions(bob.client)] == [bob_session_id]


@pytest.mark.parametrize(
    "session_id",
    [
        "not-a-session",
        "00000000000000000000000000",
        "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "01J0000000000000000000000",
        "x" * 300,
        "%C3%A9t%C3%A9",
    ],
)
async def test_deleting_a_malformed_or_unknown_session_is_not_found(
    users: UserFactory, session_id: str
) -> None:
    """A malformed or unknown session id is 404, and no session is harmed."""
    alice = await users.register()

    response = await alice.client.delete(f"/sessions/{session_id}")

    assert_error(response, 404)
    await assert_alive(alice.client)


async def test_deleting_the_current_session_signs_out(users: UserFactory) -> None:
    """Deleting one's own current session works like logout: only that token dies."""
    alice = await users.register()
    phone = await second_device(users, alice)
    own_id = (await current_session(alice.client))["id"]

    response = await alice.client.delete(f"/sessions/{own_id}")

    assert response.status_code == 204, response.text
    await assert_dead(alice.client)
    await assert_alive(phone)


async def test_deleted_session_cannot_be_deleted_again(users: UserFactory) -> None:
    """Once a session is deleted, deleting it again is 404."""
    alice = await users.register()
    phone = await second_device(users, alice)
    phone_id = (await current_session(phone))["id"]
    first = await alice.client.delete(f"/sessions/{phone_id}")
    assert first.status_code == 204, first.text

    again = await alice.client.delete(f"/sessions/{phone_id}")

    assert_error(again, 404)


# Revoking all other sessions


async def test_deleting_all_sessions_keeps_only_the_current_one(users: UserFactory) -> None:
    """DELETE /sessions answers 204 and ends every session of the user but the caller's."""
    alice = await users.register()
    phone = await second_device(users, alice)
    laptop = await second_device(users, alice)

    response = await phone.delete("/sessions")

    assert response.status_code == 204, response.text
    await assert_dead(alice.client)
    await assert_dead(laptop)
    await assert_alive(phone)
    assert [s["current"] for s in await list_sessions(phone)] == [True]


async def test_deleting_all_sessions_leaves_other_users_signed_in(users: UserFactory) -> None:
    """DELETE /sessions touches only the caller's own sessions."""
    alice = await users.register()
    bob = await users.register()
    bob_phone = await second_device(users, bob)

    response = await alice.client.delete("/sessions")

    assert response.status_code == 204, response.text
    await assert_alive(bob.client)
    await assert_alive(bob_phone)


# Expiry


async def test_sign_in_expires_at_is_the_idle_limit_by_default(
    users: UserFactory, clock: FakeClock
) -> None:
    """Sign-in's expires_at is min(30-day hard limit, now + 7-day idle timeout): 7 days."""
    alice = await users.register()
    clock.advance(hours=1)

    response = await users.sign_in(alice.username)

    assert parse_utc(response.json()["expires_at"]) == clock.now() + IDLE_TIMEOUT


async def test_sign_in_expires_at_is_the_hard_limit_when_it_comes_first(
    start_server: ServerStarter, clock: FakeClock
) -> None:
    """With a session_ttl shorter than the idle timeout, expires_at is now + session_ttl."""
    server = await start_server(session_ttl=timedelta(days=2))
    async with UserFactory(server.api_url) as users:
        alice = await users.register()

        response = await users.sign_in(alice.username)

    assert parse_utc(response.json()["expires_at"]) == clock.now() + timedelta(days=2)


async def test_session_unused_for_the_idle_timeout_expires(
    users: UserFactory, clock: FakeClock
) -> None:
    """A session unused for 7 days gets 401 with code session_expired."""
    alice = await users.register()

    clock.advance(IDLE_TIMEOUT)

    await assert_dead(alice.client, "session_expired")


async def test_session_unused_for_just_under_the_idle_timeout_lives(
    users: UserFactory, clock: FakeClock
) -> None:
    """A session unused for one second less than 7 days still works."""
    alice = await users.register()

    clock.advance(IDLE_TIMEOUT - timedelta(seconds=1))

    await assert_alive(alice.client)


async def test_session_used_every_six_days_lives_until_the_hard_limit(
    users: UserFactory, clock: FakeClock
) -> None:
    """A session used every 6 days survives the idle timeout but dies at 30 days."""
    alice = await users.register()
    hard_limit = clock.now() + TTL
    for _ in range(4):
        clock.advance(days=6)
        await assert_alive(alice.client)

    clock.advance(hard_limit - clock.now() - timedelta(seconds=1))
    await assert_alive(alice.client)

    clock.advance(seconds=1)
    await assert_dead(alice.client, "session_expired")


async def test_session_dies_at_a_configured_ttl(
    start_server: ServerStarter, clock: FakeClock
) -> None:
    """With session_ttl=1h, a session in constant use works for an hour and then gets 401."""
    server = await start_server(session_ttl=timedelta(hours=1))
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        for _ in range(5):
            clock.advance(minutes=10)
            await assert_alive(alice.client)
        clock.advance(minutes=10, seconds=-1)
        await assert_alive(alice.client)

        clock.advance(seconds=1)

        await assert_dead(alice.client, "session_expired")


async def test_expires_at_moves_forward_as_the_session_is_used(
    users: UserFactory, clock: FakeClock
) -> None:
    """Using a session moves its expires_at (and last_used_at) to the time of use."""
    alice = await users.register()
    clock.advance(days=3)
    used = clock.now()

    await assert_alive(alice.client)

    session = await current_session(alice.client)
    assert parse_utc(session["last_used_at"]) == used
    assert parse_utc(session["expires_at"]) == used + IDLE_TIMEOUT


async def test_a_used_session_outlives_its_first_expires_at(
    users: UserFactory, clock: FakeClock
) -> None:
    """A session used before its first expires_at still works after that time has passed."""
    response = await users.sign_in((await users.register()).username)
    client = users.client(response.json()["token"])
    first_expiry = parse_utc(response.json()["expires_at"])
    clock.advance(days=6)
    await assert_alive(client)

    clock.advance(days=6)

    assert clock.now() > first_expiry
    await assert_alive(client)


async def test_last_used_at_is_not_rewritten_within_a_minute(
    users: UserFactory, clock: FakeClock
) -> None:
    """A request less than 60 s after the last write leaves last_used_at (and expires_at)."""
    alice = await users.register()
    signed_up = clock.now()
    phone = await second_device(users, alice)
    clock.advance(seconds=59)

    await assert_alive(alice.client)

    [alices] = other_sessions(await list_sessions(phone))
    assert parse_utc(alices["last_used_at"]) == signed_up
    assert parse_utc(alices["expires_at"]) == signed_up + IDLE_TIMEOUT


async def test_last_used_at_is_rewritten_after_more_than_a_minute(
    users: UserFactory, clock: FakeClock
) -> None:
    """A request more than 60 s after the last write sets last_used_at to its time."""
    alice = await users.register()
    phone = await second_device(users, alice)
    clock.advance(seconds=61)
    used = clock.now()

    await assert_alive(alice.client)

    [alices] = other_sessions(await list_sessions(phone))
    assert parse_utc(alices["last_used_at"]) == used
    assert parse_utc(alices["expires_at"]) == used + IDLE_TIMEOUT


async def test_expired_sessions_are_not_listed(users: UserFactory, clock: FakeClock) -> None:
    """A session past its idle timeout disappears from GET /sessions."""
    alice = await users.register()
    phone = await second_device(users, alice)
    clock.advance(days=6)
    await assert_alive(phone)

    clock.advance(days=2)

    listed = await list_sessions(phone)
    assert [s["current"] for s in listed] == [True]


async def test_sessions_past_the_hard_limit_are_not_listed(
    start_server: ServerStarter, clock: FakeClock
) -> None:
    """A session past session_ttl disappears from GET /sessions, even if recently used."""
    server = await start_server(session_ttl=timedelta(hours=1))
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        clock.advance(minutes=59)
        await assert_alive(alice.client)
        phone = await second_device(users, alice)

        clock.advance(minutes=1)

        listed = await list_sessions(phone)
    assert [s["current"] for s in listed] == [True]


# The cap on sessions per user


async def signed_in_devices(
    users: UserFactory, clock: FakeClock, user: SignedInUser, count: int
) -> list[httpx.AsyncClient]:
    """Sign ``user`` in ``count`` more times, a minute apart."""
    devices = []
    for _ in range(count):
        clock.advance(minutes=1)
        devices.append(await second_device(users, user))
    return devices


async def test_sign_in_beyond_the_cap_evicts_the_oldest_session(
    start_server: ServerStarter, clock: FakeClock
) -> None:
    """With max_sessions_per_user=3, the 4th sign-in ends the oldest session."""
    server = await start_server(max_sessions_per_user=3)
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        devices = await signed_in_devices(users, clock, alice, 3)

        await assert_dead(alice.client)
        for device in devices:
            await assert_alive(device)
        assert len(await list_sessions(devices[0])) == 3


async def test_sign_in_up_to_the_cap_keeps_every_session(
    start_server: ServerStarter, clock: FakeClock
) -> None:
    """With max_sessions_per_user=3, three sessions all stay alive."""
    server = await start_server(max_sessions_per_user=3)
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        devices = await signed_in_devices(users, clock, alice, 2)

        for client in [alice.client, *devices]:
            await assert_alive(client)


async def test_the_session_cap_is_per_user(start_server: ServerStarter, clock: FakeClock) -> None:
    """Another user's many sign-ins never evict a user's session."""
    server = await start_server(max_sessions_per_user=3)
    async with UserFactory(server.api_url) as users:
        bob = await users.register()
        alice = await users.register()
        await signed_in_devices(users, clock, alice, 3)

        await assert_alive(bob.client)
