"""Credentials: no account enumeration, strong tokens kept only as hashes, tight cookies.

Complements test_login.py (same 401 for a wrong password and an unknown login),
test_throttle.py (brute force and spraying) and test_cookies.py (cookie flags and CSRF).
"""

import base64
import hashlib
import statistics
import time
from http.cookies import SimpleCookie

import httpx
from sqlalchemy import select

from gkchat.db.tables import metadata, sessions
from tests.conftest import ServerStarter
from tests.support.api_errors import assert_error
from tests.support.factories import DEFAULT_PASSWORD, UserFactory, registration
from tests.support.server import RunningServer

WRONG_PASSWORD = "not the right password"
TIMING_ROUNDS = 7
# The medians of the two kinds of failed sign-in may differ by this factor at most; skipping
# the argon2 verification for unknown logins would make them differ by ten times or more.
TIMING_FACTOR = 3.0


async def login(server: RunningServer, login: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as client:
        return await client.post("/auth/login", json={"login": login, "password": password})


async def timed_login(server: RunningServer, login_as: str) -> float:
    started = time.perf_counter()
    response = await login(server, login_as, WRONG_PASSWORD)
    elapsed = time.perf_counter() - started
    assert_error(response, 401, "invalid_credentials")
    return elapsed


async def test_unknown_login_takes_as_long_as_a_wrong_password(
    server: RunningServer, users: UserFactory
) -> None:
    """A failed sign-in takes about as long for an unknown login as for a wrong password."""
    alice = await users.register()
    known, unknown = [], []
    for i in range(TIMING_ROUNDS):  # interleaved, so that load on the machine hits both
        known.append(await timed_login(server, alice.username))
        unknown.append(await timed_login(server, f"nobody{i}"))

    ratio = statistics.median(unknown) / statistics.median(known)
    assert 1 / TIMING_FACTOR < ratio < TIMING_FACTOR, (known, unknown)


async def test_lockout_looks_the_same_for_unknown_accounts(start_server: ServerStarter) -> None:
    """An unknown login is locked out after as many failures, with the same answer."""
    server = await start_server(rate_limits=True, login_max_failures_per_account=2)
    async with UserFactory(server.api_url) as users:
        alice = await users.register()
        answers = {}
        for name in (alice.username, "nobody"):
            for _ in range(2):
                assert_error(await login(server, name, WRONG_PASSWORD), 401)
            answers[name] = await login(server, name, WRONG_PASSWORD)

    known, unknown = answers[alice.username], answers["nobody"]
    assert_error(known, 429, "too_many_attempts")
    assert unknown.status_code == known.status_code
    assert unknown.json() == known.json()


async def test_registration_conflict_names_only_what_is_taken(users: UserFactory) -> None:
    """Signing up with a taken username is 409 and does not sign anyone in."""
    alice = await users.register()
    async with httpx.AsyncClient(base_url=users.api_url, timeout=30) as client:
        response = await client.post("/auth/register", json=registration(alice.username))

    assert_error(response, 409)
    assert "token" not in response.text
    assert "set-cookie" not in response.headers


async def test_tokens_carry_256_random_bits(users: UserFactory) -> None:
    """Every token is 32 bytes of URL-safe base64, and no two sign-ins share one."""
    alice = await users.register()
    tokens = [alice.token] + [await users.login(alice.username) for _ in range(9)]

    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=")) == 32, token
    assert len(set(tokens)) == len(tokens)


async def test_the_database_keeps_only_token_hashes(
    server: RunningServer, users: UserFactory
) -> None:
    """No table holds a session token; the sessions table holds its SHA-256."""
    alice = await users.register()
    phone_token = await users.login(alice.username)
    tokens = {alice.token, phone_token}

    stored: list[str] = []
    async with server.app.state.services.db.read() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                stored.extend(str(value) for value in row)
        hashes = set((await conn.scalars(select(sessions.c.token_hash))).all())

    assert [value for value in stored if any(token in value for token in tokens)] == []
    assert {hashlib.sha256(t.encode()).hexdigest() for t in tokens} <= hashes


async def test_the_database_keeps_no_password(server: RunningServer, users: UserFactory) -> None:
    """No table holds the password as typed; the users table holds an argon2id hash."""
    await users.register(password=DEFAULT_PASSWORD)

    stored: list[str] = []
    async with server.app.state.services.db.read() as conn:
        for table in metadata.sorted_tables:
            for row in (await conn.execute(select(table))).all():
                stored.extend(str(value) for value in row)

    assert [value for value in stored if DEFAULT_PASSWORD in value] == []
    assert any(value.startswith("$argon2id$") for value in stored)


async def test_session_cookie_lives_no_longer_than_the_session(users: UserFactory) -> None:
    """The session cookie is host-only, for the whole site, and expires with the session."""
    async with httpx.AsyncClient(base_url=users.api_url, timeout=30) as client:
        response = await client.post("/auth/register", json=registration())
    cookies: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookies.load(header)
    session = cookies["gkchat_session"]

    assert session["path"] == "/"
    assert session["domain"] == ""
    assert int(session["max-age"]) <= 30 * 24 * 3600
    assert int(session["max-age"]) > 0


async def test_tokens_never_appear_in_a_url(server: RunningServer, users: UserFactory) -> None:
    """No response of the sign-in flow redirects or links to a URL carrying the token."""
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as client:
        response = await client.post("/auth/register", json=registration())
        token = response.json()["token"]
        me = await client.get("/me", headers={"Authorization": f"Bearer {token}"})

    for answer in (response, me):
        assert "location" not in answer.headers
        assert token not in str(answer.url)
