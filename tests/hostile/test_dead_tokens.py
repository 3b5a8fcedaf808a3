"""Every signed-in endpoint of the route table refuses a missing or dead token with 401.

The operations come from the app's own OpenAPI schema (those that declare a security
requirement), so a new endpoint is checked without being listed here. A token is dead when it
was never issued, its session logged out or was revoked from another device, or it expired;
each gets 401 in the error shape, whatever the path parameters and body.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.support.api_errors import assert_error
from tests.support.clock import FakeClock
from tests.support.factories import SignedInUser, UserFactory
from tests.support.server import RunningServer

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

API = "/api/v1"
SOME_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def signed_in_operations(server: RunningServer) -> list[tuple[str, str]]:
    """(METHOD, path with ids filled in) of every operation that needs a session."""
    operations = []
    for path, item in server.app.openapi()["paths"].items():
        for method, operation in item.items():
            if operation.get("security"):
                filled = path.removeprefix(API)
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "path":
                        filled = filled.replace("{" + parameter["name"] + "}", SOME_ID)
                operations.append((method.upper(), filled))
    return operations


async def assert_refused_everywhere(
    server: RunningServer, users: UserFactory, token: str | None
) -> None:
    client = users.client(token)
    operations = signed_in_operations(server)
    assert len(operations) >= 25, operations
    for method, path in operations:
        body: Any = {} if method in ("POST", "PUT", "PATCH") else None
        response = await client.request(method, path, json=body)
        assert_error(response, 401)


async def logged_out(user: SignedInUser, _users: UserFactory, _clock: FakeClock) -> str:
    response = await user.client.post("/auth/logout")
    assert response.status_code == 204, response.text
    return user.token


async def revoked(user: SignedInUser, users: UserFactory, _clock: FakeClock) -> str:
    other = users.client(await users.login(user.username))
    sessions = (await user.get("/sessions")).json()["sessions"]
    current = next(s["id"] for s in sessions if s["current"])
    response = await other.delete(f"/sessions/{current}")
    assert response.status_code == 204, response.text
    return user.token


async def expired(user: SignedInUser, _users: UserFactory, clock: FakeClock) -> str:
    clock.advance(timedelta(days=31))
    return user.token


async def never_issued(_user: SignedInUser, _users: UserFactory, _clock: FakeClock) -> str:
    return "this-token-was-never-issued-by-the-server-000000"


DEAD_TOKENS: dict[str, Callable[[SignedInUser, UserFactory, FakeClock], Awaitable[str]]] = {
    "logged-out": logged_out,
    "revoked": revoked,
    "expired": expired,
    "never-issued": never_issued,
}


async def test_every_signed_in_endpoint_refuses_a_missing_token(
    server: RunningServer, users: UserFactory
) -> None:
    """No Authorization header and no cookie: 401 on every signed-in operation."""
    await assert_refused_everywhere(server, users, None)


@pytest.mark.parametrize("kind", list(DEAD_TOKENS))
async def test_every_signed_in_endpoint_refuses_a_dead_token(
    server: RunningServer, users: UserFactory, clock: FakeClock, kind: str
) -> None:
    """A token that is logged out, revoked, expired or never issued: 401 everywhere."""
    user = await users.register()
    token = await DEAD_TOKENS[kind](user, users, clock)

    await assert_refused_everywhere(server, users, token)
