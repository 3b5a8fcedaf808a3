"""GET /users?q=, GET /users/{id} and GET /me: finding people and what is shown of them."""

from urllib.parse import quote

import httpx
import pytest

from gkchat.domain.ids import new_id
from tests.support.api_errors import assert_error
from tests.support.factories import SignedInUser, UserFactory
from tests.support.server import RunningServer

PUBLIC_USER_FIELDS = {"id", "username", "created_at"}


async def search(user: SignedInUser, q: str, **params: int) -> list[str]:
    """The usernames /users?q= finds, in the order it gives them."""
    response = await user.get("/users", params={"q": q, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"users"}, body
    for found in body["users"]:
        assert set(found) == PUBLIC_USER_FIELDS, found
    return [found["username"] for found in body["users"]]


async def register_all(users: UserFactory, *usernames: str) -> SignedInUser:
    """Register every username in order; return a signed-in searcher named otherwise."""
    for username in usernames:
        await users.register(username)
    return await users.register("zz_searcher")


async def test_search_matches_prefix_ignoring_case(users: UserFactory) -> None:
    """A prefix in any case finds the usernames that start with it, as they are spelled."""
    searcher = await register_all(users, "alice", "Alicia", "ALI", "bob", "malice")

    found = await search(searcher, "aLi")

    assert sorted(found) == ["ALI", "Alicia", "alice"]


async def test_search_puts_shortest_names_first(users: UserFactory) -> None:
    """Matches come shortest username first."""
    searcher = await register_all(users, "anna_maria", "ann", "annabel", "anna")

    assert await search(searcher, "ann") == ["ann", "anna", "annabel", "anna_maria"]


async def test_search_honours_limit(users: UserFactory) -> None:
    """``limit`` caps the number of results, keeping the shortest names."""
    searcher = await register_all(users, "anna_maria", "ann", "annabel", "anna")

    assert await search(searcher, "ann", limit=2) == ["ann", "anna"]


async def test_search_returns_at_most_fifty(users: UserFactory) -> None:
    """However many match and whatever limit is asked for, at most 50 users come back."""
    searcher = await register_all(users, *(f"many{i:02d}" for i in range(51)))

    assert len(await search(searcher, "many", limit=1000)) == 50
    assert 1 <= len(await search(searcher, "many")) <= 50


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        pytest.param("a_", ["a_c", "a_b1"], id="underscore"),
        pytest.param("a.", ["a.c", "a.b1"], id="dot"),
    ],
)
async def test_search_punctuation_is_literal(
    users: UserFactory, prefix: str, expected: list[str]
) -> None:
    """'_' and '.' in a prefix match only themselves, not any character."""
    searcher = await register_all(users, "a_b1", "a_c", "a.b1", "a.c", "axb1", "abc")

    assert await search(searcher, prefix) == expected


async def test_search_without_match_is_empty(users: UserFactory) -> None:
    """A prefix that no username starts with finds nobody."""
    searcher = await register_all(users, "alice", "bob")

    assert await search(searcher, "carol") == []


async def test_search_does_not_match_inside_names(users: UserFactory) -> None:
    """Only the start of a username counts: 'lic' does not find 'alice'."""
    searcher = await register_all(users, "alice")

    assert await search(searcher, "lic") == []


@pytest.mark.parametrize(
    "prefix",
    ["%", "al%", "a*", "é", "ali ce", "al-", "al@", "' OR 1=1 --", "\\", "a" * 33, "a" * 256],
)
async def test_search_with_impossible_prefix_is_empty(users: UserFactory, prefix: str) -> None:
    """A prefix no username can have is a 200 with no users, not an error or a wildcard."""
    searcher = await register_all(users, "alice", "al_x")

    assert await search(searcher, prefix) == []


async def test_search_without_q_is_422(users: UserFactory) -> None:
    """Searching without ``q`` is 422 in the error shape."""
    alice = await users.register("alice")

    assert_error(await alice.get("/users"), 422)


async def test_search_needs_authentication(users: UserFactory, anon: httpx.AsyncClient) -> None:
    """Searching without a token is 401 in the error shape."""
    await users.register("alice")

    assert_error(await anon.get("/users", params={"q": "ali"}), 401)


async def test_search_skips_disabled_users(server: RunningServer, users: UserFactory) -> None:
    """A disabled account is not found by search."""
    searcher = await register_all(users, "alice", "alicia")
    await server.app.state.services.accounts.set_disabled("alice", disabled=True)

    assert await search(searcher, "ali") == ["alicia"]


async def test_get_user_is_public_profile(users: UserFactory) -> None:
    """GET /users/{id} gives id, username and created_at, and never the email."""
    alice = await users.register("alice")
    bob = await users.register("bob")
    own = (await alice.get("/me")).json()

    response = await bob.get(f"/users/{alice.id}")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": alice.id,
        "username": "alice",
        "created_at": own["created_at"],
    }


async def test_get_user_needs_authentication(users: UserFactory, anon: httpx.AsyncClient) -> None:
    """Looking up a user without a token is 401 in the error shape."""
    alice = await users.register("alice")

    assert_error(await anon.get(f"/users/{alice.id}"), 401)


@pytest.mark.parametrize(
    "user_id",
    [
        pytest.param(new_id(), id="well-formed-unknown"),
        pytest.param("nope", id="short"),
        pytest.param("x" * 500, id="500-characters"),
        pytest.param("' OR '1'='1", id="sql"),
    ],
)
async def test_get_unknown_or_malformed_user_is_404(users: UserFactory, user_id: str) -> None:
    """An id that matches no user, or cannot be an id, is 404 user_not_found."""
    alice = await users.register("alice")

    response = await alice.get(f"/users/{quote(user_id, safe='')}")

    assert_error(response, 404, "user_not_found")


async def test_get_user_with_path_traversal_is_404(users: UserFactory) -> None:
    """An id spelled as a path ('../etc', slash escaped) is 404 in the error shape."""
    alice = await users.register("alice")

    response = await alice.get(f"/users/{quote('../etc', safe='')}")

    # The escaped slash keeps the request off the /users/{id} route, so the code is the
    # router's not_found rather than user_not_found; either is a 404 in the error shape.
    assert assert_error(response, 404)["code"] in {"user_not_found", "not_found"}


async def test_me_includes_email(users: UserFactory) -> None:
    """/me is the user's own profile, with their email address."""
    alice = await users.register("alice", email="alice@example.com")

    response = await alice.get("/me")

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {*PUBLIC_USER_FIELDS, "email"}
    assert body["id"] == alice.id
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
