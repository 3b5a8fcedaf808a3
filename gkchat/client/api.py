"""The HTTP side of the SDK: :class:`Client`, one method per endpoint of the contract."""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Self, cast
from urllib.parse import quote

import httpx

from gkchat.client import realtime
from gkchat.client.errors import APIError
from gkchat.client.types import (
    AuthResult,
    Conversation,
    Direction,
    Event,
    FriendRequest,
    Friendship,
    Health,
    Message,
    OwnUser,
    Page,
    PublicUser,
    Session,
    SyncResult,
)

API_PREFIX = "/api/v1"
USER_AGENT = "gkchat-python-sdk/0.1"
DEFAULT_SEND_RETRIES = 4
RETRY_BASE_DELAY = 0.2
RETRY_MAX_DELAY = 5.0


class Client:
    """An asynchronous GK-Chat client for one user.

    ``base_url`` is the server's address (``http://127.0.0.1:8000``; a trailing ``/api/v1`` is
    accepted too). Pass ``token`` to reuse a session, or call :meth:`register` or
    :meth:`login`, which keep the token (and the signed-in :attr:`user`) for later calls.
    ``timeout`` (seconds) applies to every HTTP request and to opening the WebSocket.

    Use it as an async context manager (or call :meth:`aclose`) so that its one
    ``httpx.AsyncClient`` is closed::

        async with Client("http://127.0.0.1:8000") as client:
            await client.login("alice", "correct horse battery")
            await client.send_message(friend_id, "hi")

    Every 4xx or 5xx answer raises :class:`APIError`; network failures raise ``httpx``
    transport errors, except in :meth:`send_message` and :meth:`events`, which retry.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 30,
        send_retries: int = DEFAULT_SEND_RETRIES,
        user_agent: str = USER_AGENT,
    ) -> None:
        root = base_url.rstrip("/")
        if root.endswith(API_PREFIX):
            root = root[: -len(API_PREFIX)]
        self.base_url = root
        self.api_url = root + API_PREFIX
        self.ws_url = "ws" + self.api_url.removeprefix("http") + "/ws"
        self.token = token
        self.user: OwnUser | None = None
        self.timeout = timeout
        self.send_retries = send_retries
        self.user_agent = user_agent
        self._http = httpx.AsyncClient(
            base_url=self.api_url, timeout=timeout, headers={"User-Agent": user_agent}
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (the token stays valid on the server)."""
        await self._http.aclose()

    # --- plumbing ------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int | None] | None = None,
    ) -> httpx.Response:
        """Send one request to ``/api/v1/<path>`` with the token; raise :class:`APIError` on
        a 4xx or 5xx. The way to reach endpoints a newer server adds."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = await self._http.request(
            method, "/" + path.lstrip("/"), json=json, params=query, headers=headers
        )
        if response.status_code >= 400:
            raise APIError.from_response(response)
        return response

    async def _json(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int | None] | None = None,
    ) -> Any:
        return (await self.request(method, path, json=json, params=params)).json()

    # --- accounts and sessions -----------------------------------------------------------------

    async def health(self) -> Health:
        """``GET /health``: the server and its database answer (no sign-in needed)."""
        return cast(Health, await self._json("GET", "health"))

    async def register(self, username: str, email: str, password: str) -> AuthResult:
        """Create an account and sign in as it; the token and :attr:`user` are kept."""
        body = {"username": username, "email": email, "password": password}
        return self._signed_in(await self._json("POST", "auth/register", json=body))

    async def login(self, login: str, password: str) -> AuthResult:
        """Sign in with a username or email address; the token and :attr:`user` are kept."""
        body = {"login": login, "password": password}
        return self._signed_in(await self._json("POST", "auth/login", json=body))

    def _signed_in(self, body: Any) -> AuthResult:
        result = cast(AuthResult, body)
        self.token = result["token"]
        self.user = result["user"]
        return result

    async def logout(self) -> None:
        """End the current session on the server and forget the token."""
        await self.request("POST", "auth/logout")
        self.token = None
        self.user = None

    async def me(self) -> OwnUser:
        """The signed-in user, with email (also refreshes :attr:`user`)."""
        self.user = cast(OwnUser, await self._json("GET", "me"))
        return self.user

    async def sessions(self) -> list[Session]:
        """Every live session (device) of the signed-in user, newest first."""
        return cast(list[Session], (await self._json("GET", "sessions"))["sessions"])

    async def revoke_session(self, session_id: str) -> None:
        """End one session of the signed-in user (possibly this one)."""
        await self.request("DELETE", f"sessions/{_segment(session_id)}")

    async def revoke_other_sessions(self) -> None:
        """End every session of the signed-in user except the current one."""
        await self.request("DELETE", "sessions")

    async def search_users(self, q: str, *, limit: int | None = None) -> list[PublicUser]:
        """Users whose username starts with ``q``, ignoring case (a bounded list)."""
        body = await self._json("GET", "users", params={"q": q, "limit": limit})
        return cast(list[PublicUser], body["users"])

    async def get_user(self, user_id: str) -> PublicUser:
        """A user's public profile."""
        return cast(PublicUser, await self._json("GET", f"users/{_segment(user_id)}"))

    # --- friends -------------------------------------------------------------------------------

    async def send_friend_request(self, user_id: str) -> FriendRequest | Friendship:
        """Ask ``user_id`` to be friends.

        Returns the new :class:`FriendRequest`; if they had already asked you, the server
        accepts theirs instead and this returns the :class:`Friendship` (it has ``since``).
        """
        body = await self._json("POST", "friend-requests", json={"user_id": user_id})
        if "friendship" in body:
            return cast(Friendship, body["friendship"])
        return cast(FriendRequest, body["request"])

    async def friend_requests(
        self,
        direction: Direction = "incoming",
        *,
        before: str | None = None,
        limit: int | None = None,
    ) -> Page[FriendRequest]:
        """Pending requests to you (``incoming``) or from you (``outgoing``), newest first."""
        body = await self._json(
            "GET",
            "friend-requests",
            params={"direction": direction, "before": before, "limit": limit},
        )
        return Page(cast(list[FriendRequest], body["requests"]), body.get("next_before"))

    async def accept_friend_request(self, request_id: str) -> Friendship:
        """Accept a request sent to you."""
        path = f"friend-requests/{_segment(request_id)}/accept"
        return cast(Friendship, (await self._json("POST", path))["friendship"])

    async def decline_friend_request(self, request_id: str) -> None:
        """Decline a request sent to you (the sender is not told)."""
        await self.request("POST", f"friend-requests/{_segment(request_id)}/decline")

    async def cancel_friend_request(self, request_id: str) -> None:
        """Withdraw a request you sent."""
        await self.request("DELETE", f"friend-requests/{_segment(request_id)}")

    async def friends(
        self, *, before: str | None = None, limit: int | None = None
    ) -> Page[Friendship]:
        """Your friends, most recent friendship first."""
        body = await self._json("GET", "friends", params={"before": before, "limit": limit})
        return Page(cast(list[Friendship], body["friends"]), body.get("next_before"))

    async def unfriend(self, user_id: str) -> None:
        """End the friendship with ``user_id``, for both of you."""
        await self.request("DELETE", f"friends/{_segment(user_id)}")

    async def block(self, user_id: str) -> None:
        """Block ``user_id``: ends any friendship and pending requests between you."""
        await self.request("POST", "blocks", json={"user_id": user_id})

    async def unblock(self, user_id: str) -> None:
        """Lift a block (a friendship it ended is not restored)."""
        await self.request("DELETE", f"blocks/{_segment(user_id)}")

    async def blocked_users(
        self, *, before: str | None = None, limit: int | None = None
    ) -> Page[PublicUser]:
        """The users you have blocked, most recent first."""
        body = await self._json("GET", "blocks", params={"before": before, "limit": limit})
        return Page(cast(list[PublicUser], body["users"]), body.get("next_before"))

    # --- messages ------------------------------------------------------------------------------

    async def send_message(
        self, recipient_id: str, content: str, client_id: str | None = None
    ) -> Message:
        """Send ``content`` to ``recipient_id`` over HTTP; return the stored message.

        ``client_id`` makes the send idempotent; when None a random UUID is used. On a
        connection error, a timeout, a 5xx or a 429 the send is retried (up to
        ``send_retries`` times, with exponential backoff honouring ``Retry-After``) with the
        SAME ``client_id``, so the message is stored at most once whatever happened to the
        earlier attempts.
        """
        client_id = str(uuid.uuid4()) if client_id is None else client_id
        body = {"recipient_id": recipient_id, "content": content, "client_id": client_id}
        attempt = 0
        while True:
            try:
                answer = await self._json("POST", "messages", json=body)
                return cast(Message, answer["message"])
            except APIError as exc:
                transient = exc.status is not None and (exc.status >= 500 or exc.status == 429)
                if not transient or attempt >= self.send_retries:
                    raise
                delay = max(backoff_delay(attempt), exc.retry_after or 0.0)
            except httpx.TransportError:
                if attempt >= self.send_retries:
                    raise
                delay = backoff_delay(attempt)
            attempt += 1
            await asyncio.sleep(delay)

    async def edit_message(self, message_id: str, content: str) -> Message:
        """Change the text of a message you sent."""
        path = f"messages/{_segment(message_id)}"
        return cast(
            Message, (await self._json("PATCH", path, json={"content": content}))["message"]
        )

    async def delete_message(self, message_id: str) -> None:
        """Delete a message you sent, for both sides (a tombstone stays in history)."""
        await self.request("DELETE", f"messages/{_segment(message_id)}")

    async def conversations(
        self, *, before: str | None = None, limit: int | None = None
    ) -> Page[Conversation]:
        """Your conversations, most recent activity first, with unread counts."""
        body = await self._json("GET", "conversations", params={"before": before, "limit": limit})
        return Page(cast(list[Conversation], body["conversations"]), body.get("next_before"))

    async def history(
        self, peer_id: str, before: str | None = None, limit: int | None = None
    ) -> Page[Message]:
        """One page of the messages between you and ``peer_id``, newest first.

        Pass the page's ``next_before`` as ``before`` for the next, older page.
        """
        body = await self._json(
            "GET",
            f"conversations/{_segment(peer_id)}/messages",
            params={"before": before, "limit": limit},
        )
        return Page(cast(list[Message], body["messages"]), body.get("next_before"))

    async def iter_history(
        self, peer_id: str, *, page_size: int | None = None
    ) -> AsyncIterator[Message]:
        """Every message between you and ``peer_id``, newest first, fetching page by page."""
        before: str | None = None
        while True:
            page = await self.history(peer_id, before=before, limit=page_size)
            for message in page.items:
                yield message
            if page.next_before is None:
                return
            before = page.next_before

    async def mark_read(self, peer_id: str, up_to: str) -> None:
        """Mark the peer's messages up to and including message ``up_to`` as read."""
        path = f"conversations/{_segment(peer_id)}/read"
        await self.request("POST", path, json={"up_to": up_to})

    async def mark_delivered(self, peer_id: str, up_to: str) -> None:
        """Tell the peer this device has received their messages up to ``up_to``."""
        path = f"conversations/{_segment(peer_id)}/delivered"
        await self.request("POST", path, json={"up_to": up_to})

    async def sync(self, since: str | None = None, limit: int | None = None) -> SyncResult:
        """``GET /sync``: the events after cursor ``since``, in stream order.

        Without ``since`` the answer is a fresh cursor (the current end of the stream) and no
        events. While ``has_more`` is true, call again with the returned cursor.
        """
        body = await self._json("GET", "sync", params={"since": since, "limit": limit})
        events = [Event(e["type"], e.get("data") or {}, str(e["cursor"])) for e in body["events"]]
        return SyncResult(events, str(body["cursor"]), bool(body["has_more"]))

    # --- real time -----------------------------------------------------------------------------

    def connect(
        self, *, keepalive: float | None = realtime.KEEPALIVE_INTERVAL
    ) -> AbstractAsyncContextManager[realtime.RealtimeConnection]:
        """Open the WebSocket: ``async with client.connect() as conn: ...``.

        The connection is ready when the ``async with`` body starts: every event committed
        from then on is delivered on it. See :class:`RealtimeConnection`. ``keepalive`` is
        the interval of application-level pings that stop the server reaping a quiet socket.
        """
        return realtime.connect(self, keepalive=keepalive)

    def events(
        self,
        since: str | None = None,
        *,
        max_backoff: float = realtime.MAX_BACKOFF,
        keepalive: float | None = realtime.KEEPALIVE_INTERVAL,
    ) -> realtime.EventStream:
        """Every event for this user from cursor ``since`` on, surviving disconnects.

        Without ``since`` the stream starts at a fresh cursor (taken on ``async with`` or on
        the first iteration). See :class:`gkchat.client.realtime.EventStream`.
        """
        return realtime.EventStream(self, since, max_backoff=max_backoff, keepalive=keepalive)


def backoff_delay(attempt: int, *, cap: float = RETRY_MAX_DELAY) -> float:
    """Exponential backoff with jitter: about 0.2 s, 0.4 s, 0.8 s, ... capped at ``cap``."""
    return min(cap, RETRY_BASE_DELAY * 2.0**attempt) * random.uniform(0.5, 1.0)


def _segment(value: str) -> str:
    """An id as one URL path segment (ids are opaque: never let one add a path)."""
    return quote(value, safe="")
