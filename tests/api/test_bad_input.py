"""Bad input against every accounts endpoint: always a 4xx in the error shape, never a 5xx.

The contract: "Every error is {"error": {"code": "<snake_case>", "message": "<human sentence>"}}
with a 4xx status for client mistakes ... A 5xx means a server bug; bad input must never produce
one." Each row of the table is one bad request; after it the server still serves a signed-in
user, and after the whole table in a row it still does too.
"""

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.api_errors import assert_error
from tests.support.factories import DEFAULT_PASSWORD, SignedInUser, UserFactory
from tests.support.server import RunningServer

API = "/api/v1"
MAX_BODY = 256 * 1024
UNKNOWN_ID = "00000000000000000000000000"

INVALID = frozenset({400, 422})
# Sign-up may also call an over-long password "too large".
REGISTER_REFUSED = frozenset({400, 413, 422})
# Sign-in may also treat a login or password no account can have as wrong credentials.
LOGIN_REFUSED = frozenset({400, 401, 413, 422})
UNAUTHENTICATED = frozenset({401})
NOT_FOUND = frozenset({404})
TOO_LARGE = frozenset({413})
TOO_LARGE_CODE = "request_too_large"


@dataclass(frozen=True)
class Case:
    """One bad request. ``auth`` adds the signed-in user's Bearer token to ``headers``."""

    method: str
    path: str
    statuses: frozenset[int]
    code: str | None = None
    content: bytes | None = None
    headers: Mapping[str, str | bytes] = field(default_factory=dict)
    auth: bool = True
    chunked: bool = False


def row(case_id: str, case: Case) -> Any:
    return pytest.param(case, id=case_id)


def as_json(value: object) -> bytes:
    """JSON with every non-ASCII character escaped, so lone surrogates survive as ``\\ud800``."""
    return json.dumps(value, ensure_ascii=True).encode("ascii")


JSON = {"Content-Type": "application/json"}

# Endpoints that take a JSON body, with a valid body each bad body is a variation of.
# "alice" is signed up before every case, so sign-in variations aim at a real account.
BODY_ENDPOINTS: dict[str, tuple[str, dict[str, str], frozenset[int]]] = {
    "register": (
        f"{API}/auth/register",
        {"username": "newcomer", "email": "newcomer@example.com", "password": DEFAULT_PASSWORD},
        REGISTER_REFUSED,
    ),
    "login": (
        f"{API}/auth/login",
        {"login": "alice", "password": DEFAULT_PASSWORD},
        LOGIN_REFUSED,
    ),
}

MALFORMED_JSON = {
    "truncated": b'{"login": ',
    "unquoted-keys": b'{login: "alice"}',
    "single-quotes": b"{'login': 'alice'}",
    "trailing-comma": b'{"login": "alice",}',
    "extra-data": b'{"login": "alice"}}',
    "blank": b"   ",
    "nul-byte": b"\x00",
    "deeply-nested-list": b"[" * 100_000 + b"]" * 100_000,
    "deeply-nested-objects": b'{"a":' * 40_000 + b"1" + b"}" * 40_000,
}

NOT_AN_OBJECT = {
    "list": b'["alice", "a long and unusual passphrase"]',
    "string": b'"alice"',
    "number": b"42",
    "null": b"null",
    "boolean": b"true",
}

# Raw JSON text put where a field's value goes, the other fields staying valid: every field
# gets the wrong types, the first field of each body also the odder values.
WRONG_TYPES = {
    "number": b"42",
    "object": b'{"value": "alice"}',
    "null": b"null",
}
ODD_VALUES = {
    "list": b'["alice"]',
    "boolean": b"true",
    "nested-list": b"[" * 900 + b"]" * 900,
    "infinite-number": b"1e999",
    "nan": b"NaN",
    "5000-digit-integer": b"1" + b"0" * 5000,
    "raw-control-character": b'"al\x00ice"',
    "invalid-utf8-ff": b'"\xff\xfe"',
    "invalid-utf8-latin-1": b'"ren\xe9"',
    "invalid-utf8-overlong": b'"\xc0\xaf"',
    "invalid-utf8-encoded-surrogate": b'"\xed\xa0\x80"',
    "lone-low-surrogate": b'"\\udc00alice"',
}


def strange_strings(valid: str) -> dict[str, str]:
    """Strings that no field may hold or that cannot be stored as text, for every field."""
    return {
        "nul": valid + "\u0000",
        "lone-surrogate": valid + "\ud800",
        "100KB": "x" * 100_000 + valid,
    }


NOT_JSON_CONTENT_TYPES = {
    "text-plain": "text/plain",
    "form": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data; boundary=gkchat",
}


def with_raw_value(valid: dict[str, str], field_name: str, raw: bytes) -> bytes:
    """``valid`` as JSON, with the value of ``field_name`` replaced by the raw JSON text."""
    placeholder = "\u2603PLACEHOLDER\u2603"
    encoded = as_json({**valid, field_name: placeholder})
    return encoded.replace(as_json(placeholder), raw)


def body_cases() -> list[Any]:
    cases = []
    for name, (path, valid, refused) in BODY_ENDPOINTS.items():

        def post(
            content: bytes | None,
            statuses: frozenset[int] = refused,
            headers: Mapping[str, str | bytes] = JSON,
            code: str | None = None,
            chunked: bool = False,
            path: str = path,
        ) -> Case:
            return Case(
                "POST",
                path,
                statuses,
                code=code,
                content=content,
                headers=headers,
                auth=False,
                chunked=chunked,
            )

        cases.append(row(f"{name}-no-body", post(None)))
        cases.append(row(f"{name}-empty-object", post(b"{}")))
        for label, content in MALFORMED_JSON.items():
            cases.append(row(f"{name}-malformed-{label}", post(content)))
        for label, content in NOT_AN_OBJECT.items():
            cases.append(row(f"{name}-not-an-object-{label}", post(content)))
        first_field = next(iter(valid))
        for label, raw in ODD_VALUES.items():
            content = with_raw_value(valid, first_field, raw)
            cases.append(row(f"{name}-{first_field}-{label}", post(content)))
        for field_name in valid:
            without = {k: v for k, v in valid.items() if k != field_name}
            cases.append(row(f"{name}-missing-{field_name}", post(as_json(without))))
            for label, raw in WRONG_TYPES.items():
                content = with_raw_value(valid, field_name, raw)
                cases.append(row(f"{name}-{field_name}-{label}", post(content)))
            for label, value in strange_strings(valid[field_name]).items():
                content = as_json({**valid, field_name: value})
                cases.append(row(f"{name}-{field_name}-{label}", post(content)))
        for label, content_type in NOT_JSON_CONTENT_TYPES.items():
            headers = {"Content-Type": content_type}
            cases.append(row(f"{name}-content-type-{label}", post(as_json(valid), headers=headers)))
        form = "&".join(f"{k}={v}" for k, v in valid.items()).encode()
        cases.append(row(f"{name}-form-body-labelled-json", post(form)))
        for label, size in OVERSIZED.items():
            oversized = as_json({**valid, "padding": "x" * size})
            too_large = post(oversized, TOO_LARGE, code=TOO_LARGE_CODE)
            cases.append(row(f"{name}-{label}-content-length", too_large))
            chunked = post(oversized, TOO_LARGE, code=TOO_LARGE_CODE, chunked=True)
            cases.append(row(f"{name}-{label}-chunked", chunked))
    return cases


# Endpoints behind authentication, each as a request that would otherwise succeed or 404.
AUTHENTICATED_ENDPOINTS = {
    "logout": ("POST", f"{API}/auth/logout"),
    "me": ("GET", f"{API}/me"),
    "list-sessions": ("GET", f"{API}/sessions"),
    "delete-session": ("DELETE", f"{API}/sessions/{UNKNOWN_ID}"),
    "delete-other-sessions": ("DELETE", f"{API}/sessions"),
    "search-users": ("GET", f"{API}/users?q=ali"),
    "get-user": ("GET", f"{API}/users/{UNKNOWN_ID}"),
}

# Every endpoint gets the first four; GET /me gets them all.
BAD_AUTHORIZATION: dict[str, str | bytes | None] = {
    "missing": None,
    "basic": "Basic YWxpY2U6YSBsb25nIGFuZCB1bnVzdWFsIHBhc3NwaHJhc2U=",
    "unknown-token": "Bearer not-a-real-token",
    "10KB-token": "Bearer " + "A" * 10_240,
    "empty": "",
    "scheme-only": "Bearer",
    "garbage": "garbage",
    "token-with-spaces": "Bearer not a token",
    "non-ascii-token": b"Bearer \xff\xfe\xfd",
}
GARBAGE_COOKIE = {"Cookie": "gkchat_session=not-a-real-token"}


def authentication_cases() -> list[Any]:
    cases = []
    for name, (method, path) in AUTHENTICATED_ENDPOINTS.items():
        variants = list(BAD_AUTHORIZATION.items())
        for label, value in variants if name == "me" else variants[:4]:
            headers = {} if value is None else {"Authorization": value}
            case = Case(method, path, UNAUTHENTICATED, headers=headers, auth=False)
            cases.append(row(f"{name}-authorization-{label}", case))
        # A session cookie with no live token: 401, or 403 for a write without the CSRF header.
        cookie = Case(method, path, frozenset({401, 403}), headers=GARBAGE_COOKIE, auth=False)
        cases.append(row(f"{name}-garbage-cookie", cookie))
    return cases


WRONG_METHODS = [
    ("GET", "/auth/register"),
    ("GET", "/auth/login"),
    ("GET", "/auth/logout"),
    ("POST", "/me"),
    ("DELETE", "/me"),
    ("POST", "/sessions"),
    ("PATCH", "/sessions"),
    ("GET", f"/sessions/{UNKNOWN_ID}"),
    ("POST", "/users"),
    ("DELETE", f"/users/{UNKNOWN_ID}"),
    ("POST", "/health"),
    ("OPTIONS", "/me"),
]

UNKNOWN_ROUTES = {
    "nothing": f"{API}/nothing-here",
    "below-me": f"{API}/me/extra",
    "auth": f"{API}/auth",
    "below-session": f"{API}/sessions/{UNKNOWN_ID}/extra",
    "other-version": "/api/v2/me",
    "outside-the-api": "/nothing-here",
    "nul": f"{API}/%00",
    "4000-characters": f"{API}/{'x' * 4000}",
}

BAD_IDS = {
    "word": "nope",
    "unknown": UNKNOWN_ID,
    "too-long": UNKNOWN_ID + "0",
    "nul": "%00",
    "invalid-utf8": "%FF%FE",
    "dot-dot": "..%2F..",
    "10KB": "9" * 10_000,
}

BAD_QUERIES = {
    "limit-word": "q=ali&limit=abc",
    "limit-negative": "q=ali&limit=-1",
    "limit-zero": "q=ali&limit=0",
    "limit-float": "q=ali&limit=1.5",
    "limit-empty": "q=ali&limit=",
    "limit-nul": "q=ali&limit=%00",
    "q-missing": "limit=5",
    "q-10KB": "q=" + "a" * 10_000,
}


def routing_cases() -> list[Any]:
    cases = []
    for method, path in WRONG_METHODS:
        case = Case(method, f"{API}{path}", frozenset({405}), code="method_not_allowed")
        cases.append(row(f"{method}-{path.strip('/')}", case))
    for label, path in UNKNOWN_ROUTES.items():
        cases.append(row(f"unknown-route-{label}", Case("GET", path, NOT_FOUND, code="not_found")))
    cases.append(
        row("unknown-route-post", Case("POST", f"{API}/nothing", NOT_FOUND, code="not_found"))
    )
    for label, bad_id in BAD_IDS.items():
        delete = Case("DELETE", f"{API}/sessions/{bad_id}", NOT_FOUND)
        cases.append(row(f"delete-session-id-{label}", delete))
        cases.append(row(f"get-user-id-{label}", Case("GET", f"{API}/users/{bad_id}", NOT_FOUND)))
    for label, query in BAD_QUERIES.items():
        cases.append(row(f"search-users-{label}", Case("GET", f"{API}/users?{query}", INVALID)))
    return cases


# Just over the limit, and far enough over that a server that stops reading is caught out.
OVERSIZED = {"over-256KiB": MAX_BODY + 1, "4MiB": 4 * 1024 * 1024}


def oversized_body_cases() -> list[Any]:
    """A declared body over 256 KiB is refused before any route runs, on every endpoint."""
    endpoints = [
        *AUTHENTICATED_ENDPOINTS.items(),
        ("health", ("GET", f"{API}/health")),
        ("unknown-route", ("POST", f"{API}/nothing-here")),
    ]
    cases = []
    for name, (method, path) in endpoints:
        for label, size in OVERSIZED.items() if name == "me" else [("4MiB", OVERSIZED["4MiB"])]:
            case = Case(
                method,
                path,
                TOO_LARGE,
                code=TOO_LARGE_CODE,
                content=b"x" * size,
                headers={"Content-Type": "application/octet-stream"},
            )
            cases.append(row(f"{name}-{label}-content-length", case))
    return cases


TABLE = body_cases() + authentication_cases() + routing_cases() + oversized_body_cases()


async def chunks(content: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(content), size):
        yield content[start : start + size]


async def send(client: httpx.AsyncClient, case: Case, token: str) -> httpx.Response:
    headers = [
        (name.encode("ascii"), value if isinstance(value, bytes) else value.encode("latin-1"))
        for name, value in case.headers.items()
    ]
    if case.auth:
        headers.append((b"Authorization", f"Bearer {token}".encode("ascii")))
    content: bytes | AsyncIterator[bytes] | None = case.content
    if case.chunked:
        assert case.content is not None
        content = chunks(case.content)
    return await client.request(case.method, case.path, content=content, headers=headers)


def assert_refused(response: httpx.Response, case: Case) -> None:
    """A 4xx the case allows, in the contract's error shape."""
    assert response.status_code in case.statuses, (response.status_code, response.text[:500])
    assert_error(response, response.status_code, case.code)


@pytest.fixture
async def alice(users: UserFactory) -> SignedInUser:
    return await users.register("alice")


@pytest.fixture
async def raw(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client at the server's root, so that rows can name paths outside /api/v1."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.mark.parametrize("case", TABLE)
async def test_bad_input_is_refused_in_the_error_shape(
    raw: httpx.AsyncClient, alice: SignedInUser, case: Case
) -> None:
    """Each bad request gets an allowed 4xx in the error shape, and the server goes on."""
    response = await send(raw, case, alice.token)

    assert_refused(response, case)
    me = await alice.get("/me")
    assert me.status_code == 200, me.text


async def test_server_still_works_after_the_whole_table(
    raw: httpx.AsyncClient, alice: SignedInUser, users: UserFactory
) -> None:
    """After the whole table in a row, users can still sign up, sign in and use the API.

    Every row must also have been refused in the error shape, as in the test above.
    """
    failures = []
    for param in TABLE:
        [case] = param.values
        try:
            assert_refused(await send(raw, case, alice.token), case)
        except (AssertionError, httpx.TransportError) as error:
            failures.append(f"{param.id}: {error!r}")

    me = await alice.get("/me")
    assert me.status_code == 200, me.text
    bob = await users.register()
    assert (await bob.get("/me")).status_code == 200
    assert (await users.client(await users.login("alice")).get("/sessions")).status_code == 200
    health = await raw.get(f"{API}/health")
    assert health.status_code == 200, health.text
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize(
    "prefix",
    ["%00", "ali%00ce", "%FF", "%ED%A0%80", "%25", "%2A", "'", "\\", " ", "%0A", "a" * 256],
)
async def test_a_search_prefix_no_username_can_have_finds_nobody(
    alice: SignedInUser, prefix: str
) -> None:
    """GET /users?q= with a prefix no username can start with answers without a server error.

    The contract does not say whether such a prefix is refused (4xx) or simply matches nobody;
    either is fine, a 5xx or a match is not.
    """
    response = await alice.get(f"/users?q={prefix}")

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_error(response, response.status_code)
    else:
        assert response.status_code == 200, response.text
        assert response.json()["users"] == []
