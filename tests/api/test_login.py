"""POST /auth/login and /auth/logout: signing in and out, and what a session token is worth."""

import threading
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.api_errors import assert_error
from tests.support.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.server import RunningServer

SESSION_COOKIE = "gkchat_session"


async def login(anon: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    return await anon.post("/auth/login", json={"login": login, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def me_status(anon: httpx.AsyncClient, token: str) -> int:
    return (await anon.get("/me", headers=bearer(token))).status_code


class CountingArgon2:
    """Passes everything to the real argon2 hasher, counting the verifications it runs."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.verifications = 0

    def verify(self, password_hash: str, password: str) -> Any:
        with self._lock:
            self.verifications += 1
        return self._inner.verify(password_hash, password)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


async def disable(server: RunningServer, username: str) -> None:
    """Disable an account the way the admin CLI does, through the account service."""
    await server.app.state.services.accounts.set_disabled(username, disabled=True)


@pytest.mark.parametrize(
    ("username", "login_as"),
    [
        pytest.param("Alice.W", "Alice.W", id="username"),
        pytest.param("Alice.W", "aLICE.w", id="username-other-case"),
        pytest.param("Alice.W", "alice.w@example.com", id="email"),
        pytest.param("Alice.W", "ALICE.W@EXAMPLE.COM", id="email-other-case"),
    ],
)
async def test_login_by_username_or_email_ignoring_case(
    users: UserFactory, anon: httpx.AsyncClient, username: str, login_as: str
) -> None:
    """Signing in works with the username or the email address, in any case."""
    alice = await users.register(username, email="alice.w@example.com")

    response = await login(anon, login_as, DEFAULT_PASSWORD)

    assert response.status_code == 200, response.text
    assert response.json()["user"]["id"] == alice.id


async def test_login_returns_own_user_token_and_expiry(
    server: RunningServer, users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """A login answers with the user including email, a working token and its expiry."""
    alice = await users.register("alice", email="alice@example.com")

    response = await login(anon, "alice", alice.password)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"user", "token", "expires_at"}
    assert body["user"] == {
        "id": alice.id,
        "username": "alice",
        "email": "alice@example.com",
        "created_at": body["user"]["created_at"],
    }
    assert datetime.fromisoformat(body["expires_at"]) > server.clock.now()
    assert await me_status(anon, body["token"]) == 200


async def test_wrong_password_and_unknown_login_look_the_same(
    users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """A wrong password and an unknown login get the same 401 status and body."""
    await users.register("alice")

    wrong_password = await login(anon, "alice", "not the right password")
    unknown_user = await login(anon, "nobody", "not the right password")
    unknown_email = await login(anon, "nobody@example.com", "not the right password")

    assert_error(wrong_password, 401, "invalid_credentials")
    for response in (unknown_user, unknown_email):
        assert response.status_code == wrong_password.status_code
        assert response.json() == wrong_password.json()


async def test_unknown_login_still_verifies_a_password_hash(
    server: RunningServer,
    users: UserFactory,
    anon: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An unknown login costs one argon2 verification, like a wrong password does."""
    await users.register("alice")
    hasher = server.app.state.services.hasher
    argon2 = CountingArgon2(hasher._argon2)
    monkeypatch.setattr(hasher, "_argon2", argon2)

    assert_error(await login(anon, "alice", "not the right password"), 401)
    verifications_for_wrong_password = argon2.verifications
    assert_error(await login(anon, "nobody", "not the right password"), 401)
    verifications_for_unknown_login = argon2.verifications - verifications_for_wrong_password

    assert verifications_for_wrong_password == 1
    assert verifications_for_unknown_login == 1


async def test_each_login_creates_a_new_session(
    users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """Two logins give two different tokens, both alive, each a session of its own."""
    alice = await users.register("alice")

    first = await users.login("alice")
    second = await users.login("alice")

    assert len({alice.token, first, second}) == 3
    for token in (alice.token, first, second):
        assert await me_status(anon, token) == 200
    sessions = (await alice.get("/sessions")).json()["sessions"]
    assert len(sessions) == 3
    assert len({s["id"] for s in sessions}) == 3


async def test_disabled_account_cannot_sign_in(
    server: RunningServer, users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """The right password for a disabled account is 403 account_disabled."""
    await users.register("alice")
    await disable(server, "alice")

    response = await login(anon, "alice", DEFAULT_PASSWORD)

    assert_error(response, 403, "account_disabled")


async def test_disabled_account_wrong_password_is_plain_401(
    server: RunningServer, users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """A wrong password for a disabled account reveals nothing: the usual 401."""
    await users.register("alice")
    await disable(server, "alice")

    response = await login(anon, "alice", "not the right password")

    assert_error(response, 401, "invalid_credentials")


async def test_disabling_an_account_ends_its_sessions(
    server: RunningServer, users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """Every existing token of a disabled account gets 401."""
    alice = await users.register("alice")
    second = await users.login("alice")
    bob = await users.register("bob")

    await disable(server, "alice")

    for token in (alice.token, second):
        assert_error(await anon.get("/me", headers=bearer(token)), 401)
    assert await me_status(anon, bob.token) == 200


async def test_logout_ends_the_current_session(users: UserFactory, anon: httpx.AsyncClient) -> None:
    """Logout is 204 and the token it was sent with then gets 401."""
    alice = await users.register("alice")

    response = await alice.client.post("/auth/logout")

    assert response.status_code == 204, response.text
    assert_error(await anon.get("/me", headers=bearer(alice.token)), 401)


async def test_logout_keeps_other_sessions(users: UserFactory, anon: httpx.AsyncClient) -> None:
    """Logging out one session leaves the user's other sessions signed in."""
    alice = await users.register("alice")
    other = await users.login("alice")

    assert (await alice.client.post("/auth/logout")).status_code == 204

    assert await me_status(anon, other) == 200


async def test_logout_twice_is_401(users: UserFactory) -> None:
    """A second logout with the same, now dead, token is 401."""
    alice = await users.register("alice")
    assert (await alice.client.post("/auth/logout")).status_code == 204

    assert_error(await alice.client.post("/auth/logout"), 401)


async def test_logout_without_token_is_401(anon: httpx.AsyncClient) -> None:
    """Logout without credentials is 401 in the error shape."""
    assert_error(await anon.post("/auth/logout"), 401)


async def test_logout_expires_the_session_cookie(users: UserFactory) -> None:
    """Logout answers with a Set-Cookie that expires the session cookie."""
    alice = await users.register("alice")

    response = await alice.client.post("/auth/logout")

    assert response.status_code == 204, response.text
    cookies = [
        c for c in response.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")
    ]
    assert len(cookies) == 1, response.headers.get_list("set-cookie")
    attributes = [part.strip().lower() for part in cookies[0].split(";")]
    assert attributes[0] in (f"{SESSION_COOKIE}=", f'{SESSION_COOKIE}=""')
    assert "max-age=0" in attributes or any(
        a.startswith("expires=") and "1970" in a for a in attributes
    ), cookies[0]
