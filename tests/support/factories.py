"""Factories for users and signed-in API clients."""

import itertools
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

_counter = itertools.count(1)
DEFAULT_PASSWORD = "a long and unusual passphrase"


@dataclass
class SignedInUser:
    id: str
    username: str
    email: str
    password: str
    token: str
    client: httpx.AsyncClient

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, **kwargs)


def unique_username(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}"


def registration(
    username: str | None = None, *, password: str = DEFAULT_PASSWORD
) -> dict[str, str]:
    """A valid sign-up body for a new, unique user."""
    username = username or unique_username()
    return {"username": username, "email": f"{username}@example.com", "password": password}


class UserFactory:
    """Registers users through the public API and hands back clients signed in as them."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self._clients: list[httpx.AsyncClient] = []

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.AsyncClient(base_url=self.api_url, headers=headers, timeout=30, **kwargs)
        self._clients.append(client)
        return client

    async def register(
        self,
        username: str | None = None,
        *,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
    ) -> SignedInUser:
        username = username or unique_username()
        email = email or f"{username}@example.com"
        async with httpx.AsyncClient(base_url=self.api_url, timeout=30) as anonymous:
            response = await anonymous.post(
                "/auth/register", json={"username": username, "email": email, "password": password}
            )
        assert response.status_code == 201, response.text
        body = response.json()
        token = body["token"]
        return SignedInUser(
            id=body["user"]["id"],
            username=username,
            email=email,
            password=password,
            token=token,
            client=self.client(token),
        )

    async def login(self, login: str, password: str = DEFAULT_PASSWORD) -> str:
        """Sign in again and return the new session's token."""
        async with httpx.AsyncClient(base_url=self.api_url, timeout=30) as anonymous:
            response = await anonymous.post(
                "/auth/login", json={"login": login, "password": password}
            )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    async def sign_in(
        self,
        login: str,
        password: str = DEFAULT_PASSWORD,
        *,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Sign in again (with extra request headers) and return the successful response."""
        async with httpx.AsyncClient(
            base_url=self.api_url, headers=headers, timeout=30
        ) as anonymous:
            response = await anonymous.post(
                "/auth/login", json={"login": login, "password": password}
            )
        assert response.status_code == 200, response.text
        return response

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


async def send_friend_request(sender: SignedInUser, recipient: SignedInUser) -> dict[str, Any]:
    """Have ``sender`` ask ``recipient`` to be friends; return the new pending request."""
    response = await sender.client.post("/friend-requests", json={"user_id": recipient.id})
    assert response.status_code == 201, response.text
    request: dict[str, Any] = response.json()["request"]
    return request


async def befriend(a: SignedInUser, b: SignedInUser) -> None:
    """Make ``a`` and ``b`` friends through the API: ``a`` asks and ``b`` accepts."""
    request = await send_friend_request(a, b)
    response = await b.client.post(f"/friend-requests/{request['id']}/accept")
    assert response.status_code == 200, response.text


async def distinct_pairs(users: UserFactory, count: int) -> list[tuple[SignedInUser, SignedInUser]]:
    """``count`` different pairs of new users, drawn from as few registrations as possible.

    Registering is slow on purpose (argon2), so n users give n * (n - 1) / 2 pairs.
    """
    size = 2
    while size * (size - 1) // 2 < count:
        size += 1
    people = [await users.register() for _ in range(size)]
    return list(itertools.combinations(people, 2))[:count]
