"""POST /auth/register: the account rules of the contract's "Accounts and sessions"."""

import asyncio
import unicodedata
from datetime import datetime, timedelta

import httpx
import pytest

from tests.support.api_errors import assert_error
from tests.support.factories import DEFAULT_PASSWORD, UserFactory
from tests.support.server import RunningServer

# Not in zxcvbn's list of common passwords, and 8 characters long.
EIGHT_CHARACTERS = "q7#Zp!2w"


async def register(
    anon: httpx.AsyncClient,
    username: str,
    *,
    email: str | None = None,
    password: str = DEFAULT_PASSWORD,
) -> httpx.Response:
    email = email if email is not None else f"{username}@example.com"
    return await anon.post(
        "/auth/register", json={"username": username, "email": email, "password": password}
    )


async def login(anon: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    return await anon.post("/auth/login", json={"login": login, "password": password})


def parse_utc(value: object) -> datetime:
    """Parse an RFC 3339 time and check it is in UTC with a ``Z`` or ``+00:00`` suffix."""
    assert isinstance(value, str), value
    assert value.endswith(("Z", "+00:00")), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    return parsed


async def test_register_returns_user_token_and_expiry(
    server: RunningServer, anon: httpx.AsyncClient
) -> None:
    """Sign-up answers 201 with the user (including email), a token and when it expires."""
    response = await register(anon, "alice", email="alice@example.com")

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"user", "token", "expires_at"}
    user = body["user"]
    assert set(user) == {"id", "username", "created_at", "email"}
    assert isinstance(user["id"], str)
    assert user["id"]
    assert user["username"] == "alice"
    assert user["email"] == "alice@example.com"
    assert parse_utc(user["created_at"]) == server.clock.now()
    assert isinstance(body["token"], str)
    assert body["token"]
    assert parse_utc(body["expires_at"]) > server.clock.now()


async def test_register_token_signs_in(anon: httpx.AsyncClient) -> None:
    """The token from sign-up authenticates /me as the new user."""
    body = (await register(anon, "alice")).json()

    response = await anon.get("/me", headers={"Authorization": f"Bearer {body['token']}"})

    assert response.status_code == 200, response.text
    assert response.json()["id"] == body["user"]["id"]
    assert response.json()["username"] == "alice"


@pytest.mark.parametrize(
    "username",
    ["abc", "a" * 32, "Under_Score", "dot.ted", "MiXeD.case_09", "123", "___", "..."],
)
async def test_register_accepts_valid_usernames(anon: httpx.AsyncClient, username: str) -> None:
    """Usernames of 3 to 32 letters, digits, '_' and '.' are accepted as given."""
    response = await register(anon, username, email="someone@example.com")

    assert response.status_code == 201, response.text
    assert response.json()["user"]["username"] == username


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("ab", id="too-short"),
        pytest.param("", id="empty"),
        pytest.param("a" * 33, id="too-long"),
        pytest.param("al ice", id="space"),
        pytest.param(" alice", id="leading-space"),
        pytest.param("alicé", id="unicode-letter"),
        pytest.param("алиса", id="cyrillic"),
        pytest.param("al-ice", id="hyphen"),
        pytest.param("al@ice", id="at-sign"),
        pytest.param("alice\n", id="trailing-newline"),
    ],
)
async def test_register_rejects_invalid_username(anon: httpx.AsyncClient, username: str) -> None:
    """A username outside 3-32 letters, digits, '_' and '.' is 422 invalid_username."""
    response = await register(anon, username, email="someone@example.com")

    assert_error(response, 422, "invalid_username")


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "alice@", "@example.com", "alice example@example.com", "alice@@example.com"],
)
async def test_register_rejects_invalid_email(anon: httpx.AsyncClient, email: str) -> None:
    """An email address that is not an address is 422 invalid_email."""
    response = await register(anon, "alice", email=email)

    assert_error(response, 422, "invalid_email")


async def test_register_username_taken_ignoring_case(
    users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """A username that differs from a taken one only in case is 409 username_taken."""
    await users.register("Alice")

    response = await register(anon, "aLICE", email="other@example.com")

    assert_error(response, 409, "username_taken")


async def test_register_email_taken_ignoring_case(
    users: UserFactory, anon: httpx.AsyncClient
) -> None:
    """An email that differs from a registered one only in case is 409 email_taken."""
    await users.register("alice", email="alice@example.com")

    response = await register(anon, "bob", email="ALICE@Example.COM")

    assert_error(response, 409, "email_taken")


async def test_register_rejects_seven_character_password(anon: httpx.AsyncClient) -> None:
    """A password of 7 characters is 422 password_too_short."""
    response = await register(anon, "alice", password=EIGHT_CHARACTERS[:7])

    assert_error(response, 422, "password_too_short")


@pytest.mark.parametrize("length", [8, 128, 1024])
async def test_register_accepts_password_lengths(anon: httpx.AsyncClient, length: int) -> None:
    """Passwords of 8, 128 and 1024 characters are accepted and sign in."""
    password = (EIGHT_CHARACTERS * 128)[:length]

    response = await register(anon, "alice", password=password)

    assert response.status_code == 201, response.text
    assert (await login(anon, "alice", password)).status_code == 200


async def test_register_rejects_password_over_maximum(
    server: RunningServer, anon: httpx.AsyncClient
) -> None:
    """A password longer than the configured maximum is 413 password_too_long."""
    password = "x" * (server.settings.password_max_length + 1)

    response = await register(anon, "alice", password=password)

    assert_error(response, 413, "password_too_long")


@pytest.mark.parametrize("password", ["password1", "iloveyou", "PASSWORD1", "ILoveYou"])
async def test_register_rejects_common_password(anon: httpx.AsyncClient, password: str) -> None:
    """A password on the common-password list, in any case, is 422 password_too_common."""
    response = await register(anon, "alice", password=password)

    assert_error(response, 422, "password_too_common")


@pytest.mark.parametrize(
    ("username", "email", "password"),
    [
        pytest.param("longname_1", "x@example.com", "longname_1", id="username"),
        pytest.param("longname_1", "x@example.com", "LongName_1", id="username-other-case"),
        pytest.param("alice", "alice.smith@example.com", "alice.smith@example.com", id="email"),
        pytest.param("alice", "alice.smith@example.com", "alice.smith", id="email-local-part"),
    ],
)
async def test_register_rejects_password_equal_to_name(
    anon: httpx.AsyncClient, username: str, email: str, password: str
) -> None:
    """A password that is the username or the email address is refused with 422."""
    response = await register(anon, username, email=email, password=password)

    error = assert_error(response, 422)
    assert error["code"].startswith("password_"), error


async def test_password_with_spaces_and_unicode_is_not_trimmed(anon: httpx.AsyncClient) -> None:
    """A password keeps its surrounding spaces: only the exact string signs in."""
    password = "  Grüße, 世界 — ünïcødé  "
    assert (await register(anon, "alice", password=password)).status_code == 201

    for variant in (password.strip(), password.lstrip(), password.rstrip(), password + " "):
        assert_error(await login(anon, "alice", variant), 401, "invalid_credentials")
    assert (await login(anon, "alice", password)).status_code == 200


async def test_password_is_not_unicode_normalised(anon: httpx.AsyncClient) -> None:
    """A password registered in NFC form does not sign in with its NFD spelling."""
    password = unicodedata.normalize("NFC", "crème brûlée café")
    decomposed = unicodedata.normalize("NFD", password)
    assert decomposed != password
    assert (await register(anon, "alice", password=password)).status_code == 201

    assert_error(await login(anon, "alice", decomposed), 401, "invalid_credentials")
    assert (await login(anon, "alice", password)).status_code == 200


async def test_long_password_is_not_truncated(anon: httpx.AsyncClient) -> None:
    """A 1000-character password that differs only in its last character does not sign in."""
    password = (EIGHT_CHARACTERS * 125)[:999] + "A"
    assert len(password) == 1000
    assert (await register(anon, "alice", password=password)).status_code == 201

    assert_error(await login(anon, "alice", password[:-1] + "B"), 401, "invalid_credentials")
    assert (await login(anon, "alice", password)).status_code == 200


async def test_concurrent_registrations_of_one_username(anon: httpx.AsyncClient) -> None:
    """Five simultaneous sign-ups for one username give exactly one 201 and four 409s."""
    responses = await asyncio.gather(
        *(register(anon, "alice", email=f"alice{i}@example.com") for i in range(5))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409, 409], [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "username_taken")
