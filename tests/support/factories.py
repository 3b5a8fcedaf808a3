"""Factories for users and signed-in API clients."""

import itertools
from dataclasses import dataclass
from typing import Any

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
        async with httpx.AsyncClient(base_url=self.api_url) as anonymous:
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
        async with httpx.AsyncClient(base_url=self.api_url) as anonymous:
            response = await anonymous.post(
                "/auth/login", json={"login": login, "password": password}
            )
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()
