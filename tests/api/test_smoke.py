"""A first end-to-end check of the test harness."""

from tests.support.factories import UserFactory


async def test_registered_user_sees_themself(users: UserFactory) -> None:
    """A newly registered user gets their own profile from /me."""
    alice = await users.register()
    response = await alice.get("/me")
    assert response.status_code == 200
    assert response.json()["username"] == alice.username
