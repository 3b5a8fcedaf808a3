"""The Python SDK (``gkchat.client``) against a real ``gkchat serve`` process, on both backends.

Waits are bounded by ``asyncio.timeout(DEADLINE)``: a deadline for something that must happen,
never a pause that lets something happen.
"""

import asyncio
import contextlib
import importlib.util
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Self, cast

import pytest

from gkchat.client import (
    APIError,
    Client,
    Event,
    FriendRequest,
    Friendship,
    Message,
)
from tests.support.process import ServerProcess
from tests.support.sdk import (
    PASSWORD,
    EventSource,
    befriend,
    next_event,
    user_id,
    username,
)

MISSING_ID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
ECHO_BOT = Path(__file__).resolve().parents[2] / "examples" / "echo_bot.py"


class Accounts:
    """Registers users through the SDK and closes every client at the end."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self._clients: list[Client] = []

    def client(self, *, token: str | None = None, base_url: str | None = None) -> Client:
        client = Client(base_url or self.server.base_url, token=token)
        self._clients.append(client)
        return client

    async def register(self, prefix: str) -> Client:
        client = self.client()
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        await client.register(name, f"{name}@example.com", PASSWORD)
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


def is_message(event: Event) -> bool:
    return event.type == "message.created"


def message_of(event: Event) -> Message:
    return cast(Message, event.data["message"])


async def next_message(source: EventSource) -> Message:
    return message_of(await next_event(source, is_message))


async def messages_until(source: EventSource, last_content: str) -> list[Message]:
    """Every message.created from ``source`` up to and including the one with ``last_content``."""
    received: list[Message] = []
    while not received or received[-1]["content"] != last_content:
        received.append(await next_message(source))
    return received


class DroppingProxy:
    """A loopback TCP proxy that forwards requests but, for its first ``drops`` connections,
    swallows the server's answer and hangs up: the client sees the connection fail after the
    server has done the work."""

    def __init__(self, upstream_port: int, drops: int = 1) -> None:
        self.upstream_port = upstream_port
        self.drops = drops
        self.dropped = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        drop = self.drops > 0
        self.drops -= int(drop)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.upstream_port
            )
            await asyncio.gather(
                self._pump(reader, upstream_writer, swallow=False),
                self._pump(upstream_reader, writer, swallow=drop),
                return_exceptions=True,
            )
        finally:
            writer.close()
            self._handlers.discard(task)

    async def _pump(
        self, source: asyncio.StreamReader, target: asyncio.StreamWriter, *, swallow: bool
    ) -> None:
        try:
            while data := await source.read(65536):
                if swallow:
                    self.dropped += 1
                    return
                target.write(data)
                await target.drain()
        finally:
            target.close()


def load_echo_bot() -> Callable[[str, str, str], Coroutine[None, None, None]]:
    spec = importlib.util.spec_from_file_location("echo_bot", ECHO_BOT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    main: Callable[[str, str, str], Coroutine[None, None, None]] = module.main
    return main


@pytest.fixture
async def accounts(gkchat_server: ServerProcess) -> AsyncIterator[Accounts]:
    registry = Accounts(gkchat_server)
    yield registry
    await registry.close()


@pytest.fixture
async def alice(accounts: Accounts) -> Client:
    return await accounts.register("alice")


@pytest.fixture
async def bob(accounts: Accounts, alice: Client) -> Client:
    """Bob, a friend of Alice's."""
    bob = await accounts.register("bob")
    await befriend(alice, bob)
    return bob


# --- HTTP ------------------------------------------------------------------------------------


async def test_register_keeps_the_token_and_the_user(accounts: Accounts) -> None:
    """register() signs the client in: /me answers with the same user and its email."""
    client = await accounts.register("carol")
    me = await client.me()
    assert client.token is not None
    assert me["id"] == user_id(client)
    assert me["email"] == f"{username(client)}@example.com"


async def test_login_with_the_email_signs_in_as_the_same_user(
    accounts: Accounts, alice: Client
) -> None:
    """login() by email returns a new token for the same user."""
    again = accounts.client()
    result = await again.login(f"{username(alice)}@example.com", PASSWORD)
    assert result["user"]["id"] == user_id(alice)
    assert again.token not in (None, alice.token)


async def test_logout_kills_the_session(accounts: Accounts, alice: Client) -> None:
    """After logout() the old token gets 401."""
    token = alice.token
    await alice.logout()
    with pytest.raises(APIError) as failure:
        await accounts.client(token=token).me()
    assert failure.value.status == 401


async def test_friend_request_both_ways_makes_friends(accounts: Accounts, alice: Client) -> None:
    """Asking someone who asked you returns the friendship, and both list each other."""
    carol = await accounts.register("carol")
    await alice.send_friend_request(user_id(carol))
    answer = await carol.send_friend_request(user_id(alice))
    assert "since" in answer, answer
    assert cast(Friendship, answer)["user"]["id"] == user_id(alice)
    assert [f["user"]["id"] for f in await alice.friends()] == [user_id(carol)]


async def test_api_error_carries_status_and_code_for_a_404(alice: Client) -> None:
    """A user that does not exist is APIError(404, user_not_found)."""
    with pytest.raises(APIError) as failure:
        await alice.get_user(MISSING_ID)
    assert (failure.value.status, failure.value.code) == (404, "user_not_found")


async def test_api_error_carries_status_and_code_for_a_422(alice: Client, bob: Client) -> None:
    """A message of only whitespace is APIError(422, empty_message), not retried."""
    with pytest.raises(APIError) as failure:
        await alice.send_message(user_id(bob), "   ")
    assert (failure.value.status, failure.value.code) == (422, "empty_message")
    assert failure.value.message


async def test_send_again_with_the_same_client_id_returns_the_same_message(
    alice: Client, bob: Client
) -> None:
    """Two sends with one client_id return one message, stored once."""
    first = await alice.send_message(user_id(bob), "only once", client_id="retry-1")
    second = await alice.send_message(user_id(bob), "only once", client_id="retry-1")
    history = await alice.history(user_id(bob))
    assert second == first
    assert [m["id"] for m in history] == [first["id"]]


async def test_repeated_client_id_is_answered_with_200(alice: Client, bob: Client) -> None:
    """The server answers a repeated client_id with 200 and the same message."""
    body = {"recipient_id": user_id(bob), "content": "hello", "client_id": "retry-2"}
    created = await alice.request("POST", "messages", json=body)
    repeated = await alice.request("POST", "messages", json=body)
    assert (created.status_code, repeated.status_code) == (201, 200)
    assert repeated.json()["message"] == created.json()["message"]


async def test_send_retries_a_lost_answer_without_a_duplicate(
    accounts: Accounts, gkchat_server: ServerProcess, alice: Client, bob: Client
) -> None:
    """When the answer to a stored send is lost, the retry reuses the client_id: one message."""
    async with DroppingProxy(gkchat_server.port) as proxy:
        through_proxy = accounts.client(token=alice.token, base_url=proxy.base_url)
        sent = await through_proxy.send_message(user_id(bob), "despite the network")
    history = await bob.history(user_id(alice))
    assert proxy.dropped == 1
    assert [m["id"] for m in history] == [sent["id"]]


async def test_iter_history_walks_every_page_once(alice: Client, bob: Client) -> None:
    """iter_history yields 120 messages across pages of 50, newest first, each once."""
    async with alice.connect() as ws:  # pipelined: acks come back in the order sent
        sends = [ws.send_message(user_id(bob), f"message {i}") for i in range(120)]
        sent = await asyncio.gather(*sends)
    walked = [m["id"] async for m in bob.iter_history(user_id(alice), page_size=50)]
    assert walked == [m["id"] for m in reversed(sent)]


async def test_mark_read_clears_the_unread_count(alice: Client, bob: Client) -> None:
    """mark_read up to the last message leaves nothing unread in conversations()."""
    last = [await alice.send_message(user_id(bob), f"unread {i}") for i in range(3)][-1]
    before = (await bob.conversations()).items[0]["unread_count"]
    await bob.mark_read(user_id(alice), last["id"])
    assert (before, (await bob.conversations()).items[0]["unread_count"]) == (3, 0)


async def test_sync_without_since_is_a_fresh_cursor(alice: Client, bob: Client) -> None:
    """sync() without since has no events; sync(since=it) has exactly what came after."""
    await alice.send_message(user_id(bob), "before")
    fresh = await bob.sync()
    await alice.send_message(user_id(bob), "after")
    later = await bob.sync(since=fresh.cursor)
    assert fresh.events == []
    assert [message_of(e)["content"] for e in later.events if is_message(e)] == ["after"]


async def test_sessions_lists_the_current_session(accounts: Accounts, alice: Client) -> None:
    """sessions() marks this client's session current; revoke_session ends the other one."""
    other_device = accounts.client()
    await other_device.login(username(alice), PASSWORD)
    sessions = await alice.sessions()
    other = [s for s in sessions if not s["current"]]
    assert (len(sessions), len(other)) == (2, 1)
    await alice.revoke_session(other[0]["id"])
    with pytest.raises(APIError) as failure:
        await other_device.me()
    assert failure.value.status == 401


async def test_revoke_other_sessions_keeps_this_one(accounts: Accounts, alice: Client) -> None:
    """revoke_other_sessions leaves only the current session."""
    await accounts.client().login(username(alice), PASSWORD)
    await alice.revoke_other_sessions()
    assert [s["current"] for s in await alice.sessions()] == [True]


async def test_search_and_get_user_return_public_profiles(
    accounts: Accounts, alice: Client
) -> None:
    """search_users finds by prefix in any case; get_user returns the same public profile."""
    found = await accounts.client(token=alice.token).search_users(username(alice).upper())
    profile = await alice.get_user(user_id(alice))
    assert found == [profile]
    assert "email" not in profile


async def test_declined_and_cancelled_requests_leave_no_pending_request(
    accounts: Accounts, alice: Client
) -> None:
    """decline_friend_request and cancel_friend_request empty both request lists."""
    carol, dave = await accounts.register("carol"), await accounts.register("dave")
    to_carol = cast(FriendRequest, await alice.send_friend_request(user_id(carol)))
    to_dave = cast(FriendRequest, await alice.send_friend_request(user_id(dave)))
    incoming = [r["id"] for r in await carol.friend_requests("incoming")]
    await carol.decline_friend_request(to_carol["id"])
    await alice.cancel_friend_request(to_dave["id"])
    assert incoming == [to_carol["id"]]
    assert (await alice.friend_requests("outgoing")).items == []


async def test_unfriend_stops_messages(alice: Client, bob: Client) -> None:
    """After unfriend() a message is APIError(403, not_friends)."""
    await alice.unfriend(user_id(bob))
    with pytest.raises(APIError) as failure:
        await bob.send_message(user_id(alice), "still there?")
    assert (failure.value.status, failure.value.code) == (403, "not_friends")


async def test_block_lists_the_user_until_unblocked(alice: Client, bob: Client) -> None:
    """block() ends the friendship and lists the user; unblock() removes them from the list."""
    await alice.block(user_id(bob))
    blocked = [u["id"] for u in await alice.blocked_users()]
    friends = (await alice.friends()).items
    await alice.unblock(user_id(bob))
    assert (blocked, friends) == ([user_id(bob)], [])
    assert (await alice.blocked_users()).items == []


async def test_edit_and_delete_reach_the_peer_live(alice: Client, bob: Client) -> None:
    """edit_message and delete_message arrive as message.updated and a message.deleted tombstone."""
    sent = await alice.send_message(user_id(bob), "draft")
    async with bob.events() as stream:
        edited = await alice.edit_message(sent["id"], "final")
        updated = await next_event(stream, lambda e: e.type == "message.updated")
        await alice.delete_message(sent["id"])
        deleted = await next_event(stream, lambda e: e.type == "message.deleted")
    assert message_of(updated) == edited
    assert edited["content"] == "final"
    tombstone = message_of(deleted)
    assert (tombstone["id"], tombstone["content"]) == (sent["id"], "")
    assert tombstone["deleted_at"] is not None


# --- WebSocket -------------------------------------------------------------------------------


async def test_friends_chat_both_ways_over_websocket(alice: Client, bob: Client) -> None:
    """Each side's WebSocket send is acknowledged and arrives live at the other."""
    async with alice.connect() as alice_ws, bob.connect() as bob_ws:
        hello = await alice_ws.send_message(user_id(bob), "hello bob")
        got_hello = await next_message(bob_ws)
        reply = await bob_ws.send_message(user_id(alice), "hello alice")
        got_reply = await next_event(
            alice_ws, lambda e: is_message(e) and message_of(e)["sender_id"] == user_id(bob)
        )
    assert got_hello == hello
    assert message_of(got_reply) == reply
    assert got_reply.cursor is not None


async def test_websocket_send_to_a_stranger_raises_the_error_frame(
    accounts: Accounts, alice: Client
) -> None:
    """message.send to a non-friend raises APIError(None, not_friends)."""
    stranger = await accounts.register("stranger")
    async with alice.connect() as ws:
        with pytest.raises(APIError) as failure:
            await ws.send_message(user_id(stranger), "hi")
    assert (failure.value.status, failure.value.code) == (None, "not_friends")


async def test_own_sends_come_back_on_the_sending_socket(alice: Client, bob: Client) -> None:
    """The sending socket gets message.created for its own send, with a cursor."""
    async with alice.connect() as ws:
        sent = await ws.send_message(user_id(bob), "echo to myself")
        own = await next_event(ws, is_message)
    assert message_of(own) == sent
    assert own.cursor is not None


async def test_typing_to_a_stranger_yields_an_error_event(
    accounts: Accounts, alice: Client
) -> None:
    """typing() to a non-friend comes back as an error event without a cursor."""
    stranger = await accounts.register("stranger")
    async with alice.connect() as ws:
        await ws.typing(user_id(stranger))
        error = await next_event(ws, lambda e: e.type == "error")
    assert (error.data["code"], error.cursor) == ("not_friends", None)


async def test_ping_is_answered(alice: Client) -> None:
    """ping() returns the round trip once the pong arrives."""
    async with alice.connect() as ws:
        assert await ws.ping() >= 0


async def test_bad_token_cannot_connect(accounts: Accounts) -> None:
    """connect() with an invalid token raises APIError 401."""
    with pytest.raises(APIError) as failure:
        async with accounts.client(token="not-a-token").connect():
            pass
    assert failure.value.status == 401


async def test_reconnect_with_the_last_cursor_receives_missed_messages_once_in_order(
    alice: Client, bob: Client
) -> None:
    """Bob leaves; Alice sends 30; events(since=last cursor) yields each once, in order."""
    async with bob.connect() as bob_ws:
        await alice.send_message(user_id(bob), "while online")
        seen = await next_event(bob_ws, is_message)
    assert seen.cursor is not None
    missed = [f"missed {i}" for i in range(30)]
    for content in missed:
        await alice.send_message(user_id(bob), content)
    async with bob.events(since=seen.cursor) as stream:
        caught_up = await messages_until(stream, missed[-1])
        await alice.send_message(user_id(bob), "live again")
        live = await messages_until(stream, "live again")
    assert [m["content"] for m in caught_up + live] == [*missed, "live again"]


async def test_event_stream_survives_a_server_restart(
    gkchat_server: ServerProcess, alice: Client, bob: Client
) -> None:
    """events() reconnects after the server restarts and yields what was sent meanwhile, once."""
    async with bob.events() as stream:
        await alice.send_message(user_id(bob), "before the restart")
        assert (await next_message(stream))["content"] == "before the restart"
        await asyncio.to_thread(gkchat_server.restart)
        missed = [f"during {i}" for i in range(30)]
        for content in missed:
            await alice.send_message(user_id(bob), content)
        caught_up = await messages_until(stream, missed[-1])
        await alice.send_message(user_id(bob), "after")
        live = await messages_until(stream, "after")
    assert [m["content"] for m in caught_up + live] == [*missed, "after"]
    assert stream.reconnections >= 1


async def test_events_without_since_start_at_a_fresh_cursor(alice: Client, bob: Client) -> None:
    """events() skips what happened before it started."""
    await alice.send_message(user_id(bob), "old news")
    async with bob.events() as stream:
        await alice.send_message(user_id(bob), "news")
        assert (await next_message(stream))["content"] == "news"


async def test_typing_is_yielded_without_moving_the_cursor(alice: Client, bob: Client) -> None:
    """A typing frame comes through events() with no cursor and leaves the cursor alone."""
    async with bob.events() as stream, alice.connect() as alice_ws:
        await alice_ws.send_message(user_id(bob), "are you there?")
        await next_message(stream)  # the stream is connected now
        await next_event(stream, lambda e: e.type == "notification.created")
        cursor = stream.cursor
        await alice_ws.typing(user_id(bob))
        typing = await next_event(stream, lambda e: e.type == "typing")
    assert typing == Event("typing", {"user_id": user_id(alice)}, None)
    assert stream.cursor == cursor


async def test_revoked_session_ends_the_event_stream_with_401(
    accounts: Accounts, alice: Client, bob: Client
) -> None:
    """Revoking the stream's session raises APIError 401 instead of reconnecting forever."""
    other_device = accounts.client()
    await other_device.login(username(bob), PASSWORD)
    async with bob.events() as stream:
        await alice.send_message(user_id(bob), "connected?")
        await next_message(stream)
        await other_device.revoke_other_sessions()
        with pytest.raises(APIError) as failure:
            await next_event(stream, lambda _: False)
    assert failure.value.status == 401


async def test_echo_bot_answers_a_message(
    accounts: Accounts, gkchat_server: ServerProcess, alice: Client
) -> None:
    """examples/echo_bot.py, signed in as a friend, sends Alice's message back to her."""
    bot = await accounts.register("echo")
    await befriend(alice, bot)
    main = load_echo_bot()
    async with alice.connect() as ws:
        task = asyncio.create_task(main(gkchat_server.base_url, username(bot), PASSWORD))
        try:
            await next_event(  # the bot is listening once it is online
                ws,
                lambda e: (
                    e.type == "presence"
                    and e.data.get("user_id") == user_id(bot)
                    and e.data.get("online") is True
                ),
            )
            sent = await ws.send_message(user_id(bot), "echo this")
            echo = await next_event(
                ws, lambda e: is_message(e) and message_of(e)["sender_id"] == user_id(bot)
            )
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert sent["sender_id"] == user_id(alice)
    assert message_of(echo)["content"] == "echo this"
