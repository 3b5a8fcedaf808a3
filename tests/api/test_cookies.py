"""The web client's session cookie and its CSRF protection (double submit).

Sign-up and sign-in set ``gkchat_session`` (HttpOnly, SameSite=Lax), which authenticates like a
Bearer token, and ``gkchat_csrf`` (readable by scripts), which a cookie-authenticated write must
echo in the ``X-CSRF-Token`` header.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import ServerStarter
from tests.support.api_errors import assert_error
from tests.support.factories import DEFAULT_PASSWORD, UserFactory, registration

SESSION_COOKIE = "gkchat_session"
CSRF_COOKIE = "gkchat_csrf"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class SetCookie:
    name: str
    value: str
    attributes: dict[str, str]  # lower-cased attribute names; flags map to ""

    def has(self, flag: str) -> bool:
        return flag.lower() in self.attributes


def set_cookies(response: httpx.Response) -> dict[str, SetCookie]:
    """The cookies a response sets, by name, parsed from its Set-Cookie headers."""
    cookies = {}
    for header in response.headers.get_list("set-cookie"):
        pair, *attributes = (part.strip() for part in header.split(";"))
        name, _, value = pair.partition("=")
        parsed = {}
        for attribute in attributes:
            key, _, attribute_value = attribute.partition("=")
            parsed[key.strip().lower()] = attribute_value.strip()
        cookies[name] = SetCookie(name, value, parsed)
    return cookies


@dataclass(frozen=True)
class Browser:
    """A client with a cookie jar and no Authorization header, signed in by sign-up."""

    client: httpx.AsyncClient
    username: str

    @property
    def csrf(self) -> str:
        value = self.client.cookies.get(CSRF_COOKIE)
        assert value, self.client.cookies
        return value


SignIn = Callable[[UserFactory, httpx.AsyncClient], Awaitable[httpx.Response]]


async def sign_up(users: UserFactory, client: httpx.AsyncClient) -> httpx.Response:
    response = await client.post("/auth/register", json=registration())
    assert response.status_code == 201, response.text
    return response


async def sign_in(users: UserFactory, client: httpx.AsyncClient) -> httpx.Response:
    user = await users.register()
    response = await client.post(
        "/auth/login", json={"login": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200, response.text
    return response


SIGN_INS = [pytest.param(sign_up, id="register"), pytest.param(sign_in, id="login")]


@pytest.fixture
async def browser(users: UserFactory) -> Browser:
    client = users.client()
    response = await sign_up(users, client)
    assert "authorization" not in client.headers
    return Browser(client, response.json()["user"]["username"])


async def other_device(users: UserFactory, browser: Browser) -> httpx.AsyncClient:
    """A Bearer client signed in as the browser's user through a second session."""
    return users.client(await users.login(browser.username))


async def session_id(client: httpx.AsyncClient) -> str:
    response = await client.get("/sessions")
    assert response.status_code == 200, response.text
    [current] = [s for s in response.json()["sessions"] if s["current"] is True]
    session: str = current["id"]
    return session


async def is_alive(client: httpx.AsyncClient) -> bool:
    response = await client.get("/me")
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


# Setting the cookies


@pytest.mark.parametrize("sign_in_with", SIGN_INS)
async def test_sign_in_sets_an_http_only_lax_session_cookie(
    users: UserFactory, sign_in_with: SignIn
) -> None:
    """Sign-up and sign-in set gkchat_session to the token, HttpOnly and SameSite=Lax."""
    response = await sign_in_with(users, users.client())

    cookie = set_cookies(response)[SESSION_COOKIE]
    assert cookie.value == response.json()["token"]
    assert cookie.has("HttpOnly"), cookie
    assert cookie.attributes.get("samesite", "").lower() == "lax", cookie


@pytest.mark.parametrize("sign_in_with", SIGN_INS)
async def test_sign_in_sets_a_script_readable_csrf_cookie(
    users: UserFactory, sign_in_with: SignIn
) -> None:
    """Sign-up and sign-in set a non-empty gkchat_csrf cookie without HttpOnly."""
    response = await sign_in_with(users, users.client())

    cookie = set_cookies(response)[CSRF_COOKIE]
    assert cookie.value, cookie
    assert cookie.value != response.json()["token"]
    assert not cookie.has("HttpOnly"), cookie


async def test_each_sign_in_gets_its_own_csrf_token(users: UserFactory) -> None:
    """Two sign-ins get different CSRF tokens."""
    first = set_cookies(await sign_up(users, users.client()))[CSRF_COOKIE]
    second = set_cookies(await sign_up(users, users.client()))[CSRF_COOKIE]

    assert first.value != second.value


async def test_cookies_are_not_secure_over_plain_http_by_default(users: UserFactory) -> None:
    """Over plain http with the default cookie_secure, neither cookie is marked Secure."""
    response = await sign_up(users, users.client())

    cookies = set_cookies(response)
    assert not cookies[SESSION_COOKIE].has("Secure"), cookies
    assert not cookies[CSRF_COOKIE].has("Secure"), cookies


async def test_cookie_secure_always_marks_cookies_secure(start_server: ServerStarter) -> None:
    """With cookie_secure="always", both cookies are Secure even over plain http."""
    server = await start_server(cookie_secure="always")
    async with UserFactory(server.api_url) as users:
        response = await sign_up(users, users.client())

    cookies = set_cookies(response)
    assert cookies[SESSION_COOKIE].has("Secure"), cookies
    assert cookies[CSRF_COOKIE].has("Secure"), cookies


# Reading with the cookie


async def test_the_session_cookie_alone_authenticates(browser: Browser) -> None:
    """A client with only the session cookie (no Authorization header) can GET /me."""
    response = await browser.client.get("/me")

    assert response.status_code == 200, response.text
    assert response.json()["username"] == browser.username


async def test_cookie_reads_need_no_csrf_header(browser: Browser) -> None:
    """A cookie-authenticated GET needs no X-CSRF-Token header."""
    response = await browser.client.get("/sessions")

    assert response.status_code == 200, response.text


async def test_a_garbage_session_cookie_is_not_authenticated(users: UserFactory) -> None:
    """A session cookie holding no live token gets 401."""
    client = users.client(cookies={SESSION_COOKIE: "not-a-token"})

    assert_error(await client.get("/me"), 401)


# Writing with the cookie


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    ends: str  # whose session a successful write ends: "caller" or "other"


WRITES = [
    pytest.param(Write("POST", "/auth/logout", "caller"), id="logout"),
    pytest.param(Write("DELETE", "/sessions", "other"), id="revoke-others"),
    pytest.param(Write("DELETE", "/sessions/{other}", "other"), id="revoke-one"),
]


async def cookie_write(
    users: UserFactory, browser: Browser, write: Write, headers: dict[str, str]
) -> tuple[httpx.Response, httpx.AsyncClient]:
    """Make ``write`` with the browser's cookie; return the answer and the other device."""
    other = await other_device(users, browser)
    path = write.path.format(other=await session_id(other))
    response = await browser.client.request(write.method, path, headers=headers)
    return response, other


@pytest.mark.parametrize("write", WRITES)
async def test_cookie_write_without_csrf_header_is_refused(
    users: UserFactory, browser: Browser, write: Write
) -> None:
    """A cookie-authenticated write without X-CSRF-Token is 403 csrf_failed and does nothing."""
    response, other = await cookie_write(users, browser, write, headers={})

    assert_error(response, 403, "csrf_failed")
    assert await is_alive(browser.client)
    assert await is_alive(other)


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize(
    "wrong_token",
    [
        pytest.param(lambda csrf: "not-the-token", id="garbage"),
        pytest.param(lambda csrf: csrf[:-1], id="truncated"),
        pytest.param(lambda csrf: csrf + "x", id="extended"),
        pytest.param(lambda csrf: csrf.swapcase(), id="other-case"),
        pytest.param(lambda csrf: "", id="empty"),
    ],
)
async def test_cookie_write_with_a_wrong_csrf_header_is_refused(
    users: UserFactory, browser: Browser, write: Write, wrong_token: Callable[[str], str]
) -> None:
    """A cookie-authenticated write whose X-CSRF-Token differs from the cookie is 403."""
    headers = {CSRF_HEADER: wrong_token(browser.csrf)}
    response, other = await cookie_write(users, browser, write, headers=headers)

    assert_error(response, 403, "csrf_failed")
    assert await is_alive(browser.client)
    assert await is_alive(other)


@pytest.mark.parametrize("write", WRITES)
async def test_cookie_write_with_another_browsers_csrf_token_is_refused(
    users: UserFactory, browser: Browser, write: Write
) -> None:
    """A CSRF token from another sign-in does not pass for this browser's cookie."""
    stranger = users.client()
    await sign_up(users, stranger)
    stranger_csrf = stranger.cookies.get(CSRF_COOKIE)
    assert stranger_csrf
    assert stranger_csrf != browser.csrf

    response, other = await cookie_write(
        users, browser, write, headers={CSRF_HEADER: stranger_csrf}
    )

    assert_error(response, 403, "csrf_failed")
    assert await is_alive(browser.client)
    assert await is_alive(other)


@pytest.mark.parametrize("write", WRITES)
async def test_cookie_write_with_the_matching_csrf_header_succeeds(
    users: UserFactory, browser: Browser, write: Write
) -> None:
    """A cookie-authenticated write that echoes the CSRF cookie in X-CSRF-Token succeeds."""
    response, other = await cookie_write(users, browser, write, headers={CSRF_HEADER: browser.csrf})

    assert response.status_code == 204, response.text
    assert await is_alive(browser.client) is (write.ends != "caller")
    assert await is_alive(other) is (write.ends != "other")


@pytest.mark.parametrize("write", WRITES)
async def test_bearer_writes_need_no_csrf_header(
    users: UserFactory, browser: Browser, write: Write
) -> None:
    """A Bearer-authenticated write succeeds without any X-CSRF-Token header."""
    bearer = await other_device(users, browser)
    target = users.client(await users.login(browser.username))
    path = write.path.format(other=await session_id(target))

    response = await bearer.request(write.method, path)

    assert response.status_code == 204, response.text
    assert await is_alive(bearer) is (write.ends != "caller")
    assert await is_alive(target) is (write.ends != "other")


async def test_logout_clears_the_cookies(browser: Browser) -> None:
    """A successful cookie logout expires both cookies in the browser."""
    response = await browser.client.post("/auth/logout", headers={CSRF_HEADER: browser.csrf})

    assert response.status_code == 204, response.text
    cookies = set_cookies(response)
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        assert cookies[name].attributes.get("max-age") == "0", cookies
    assert SESSION_COOKIE not in browser.client.cookies
