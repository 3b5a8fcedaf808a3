"""A database that cannot answer right now is a 503 with Retry-After in the error shape, never
a 500, and the server recovers by itself once the database answers again.

On SQLite the cause is another process holding the write lock for longer than
GKCHAT_SQLITE_BUSY_TIMEOUT; on PostgreSQL, the server's backend being terminated
(``pg_terminate_backend``) while it serves the request.
"""

import asyncio
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Table, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from gkchat.config import Settings
from gkchat.db import tables
from tests.conftest import ServerStarter
from tests.support.api_errors import assert_error
from tests.support.factories import SignedInUser, UserFactory
from tests.support.messaging import friends, post_message, send
from tests.support.server import RunningServer
from tests.support.ws import CLOSE_TRY_AGAIN_LATER, open_ws

BUSY_TIMEOUT = timedelta(milliseconds=200)
DEADLINE = 30.0

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
postgres_only = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


def assert_unavailable(response: httpx.Response) -> None:
    """503 in the contract's error shape, with a whole number of seconds in Retry-After."""
    assert_error(response, 503, "unavailable")
    assert int(response.headers["retry-after"]) >= 1


@contextmanager
def sqlite_write_lock(database_url: str) -> Iterator[None]:
    """Another process's writer holding the SQLite file's write lock until the block ends."""
    path = database_url.split(":///", 1)[1]
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


@pytest.fixture
async def server(start_server: ServerStarter) -> RunningServer:
    """A server whose SQLite writers give up after 200 ms of waiting for the lock."""
    return await start_server(sqlite_busy_timeout=BUSY_TIMEOUT)


@pytest.fixture
async def pair(users: UserFactory) -> tuple[SignedInUser, SignedInUser]:
    """Two friends."""
    return await friends(users)


# --- SQLite: the write lock stays busy -------------------------------------------------------


@sqlite_only
async def test_an_edit_that_outwaits_the_busy_timeout_is_503(
    database_url: str, pair: tuple[SignedInUser, SignedInUser]
) -> None:
    """An edit waiting longer than the busy timeout for SQLite's lock is 503 with Retry-After."""
    alice, bob = pair
    message = await send(alice, bob, "before")
    with sqlite_write_lock(database_url):
        response = await alice.client.patch(f"/messages/{message['id']}", json={"content": "x"})
    assert_unavailable(response)


@sqlite_only
async def test_a_send_that_outwaits_the_busy_timeout_is_503_and_not_stored(
    database_url: str, pair: tuple[SignedInUser, SignedInUser]
) -> None:
    """A send that cannot get SQLite's lock is 503 with Retry-After, and nothing is stored."""
    alice, bob = pair
    client_id = str(uuid.uuid4())
    with sqlite_write_lock(database_url):
        response = await post_message(alice, bob.id, "locked out", client_id)
    assert_unavailable(response)
    history = await alice.client.get(f"/conversations/{bob.id}/messages")
    assert history.json()["messages"] == []


@sqlite_only
async def test_a_websocket_send_that_outwaits_the_busy_timeout_is_an_unavailable_error(
    database_url: str, server: RunningServer, pair: tuple[SignedInUser, SignedInUser]
) -> None:
    """Over the socket the same failure is an error frame, code unavailable, with the client_id."""
    alice, bob = pair
    frame = {"recipient_id": bob.id, "content": "locked out", "client_id": "c-1"}
    async with open_ws(server, alice.token) as ws:
        await ws.ping(DEADLINE)
        with sqlite_write_lock(database_url):
            await ws.send_json({"type": "message.send", "data": frame})
            error = await ws.recv_until("error")
    assert error["data"]["code"] == "unavailable"
    assert error["data"]["client_id"] == "c-1"


@sqlite_only
async def test_the_retry_after_the_lock_is_released_is_stored_once(
    database_url: str, pair: tuple[SignedInUser, SignedInUser]
) -> None:
    """Once the lock is free, the retry with the same client_id is stored (201), exactly once."""
    alice, bob = pair
    client_id = str(uuid.uuid4())
    with sqlite_write_lock(database_url):
        refused = await post_message(alice, bob.id, "retried", client_id)
    retried = await post_message(alice, bob.id, "retried", client_id)
    assert refused.status_code == 503
    assert retried.status_code == 201, retried.text
    history = await alice.client.get(f"/conversations/{bob.id}/messages")
    assert [m["id"] for m in history.json()["messages"]] == [retried.json()["message"]["id"]]


@sqlite_only
async def test_a_request_whose_session_touch_outwaits_the_busy_timeout_is_503(
    database_url: str, server: RunningServer, pair: tuple[SignedInUser, SignedInUser]
) -> None:
    """A read that must refresh the session's last_used_at, with the lock busy, is 503."""
    alice, _bob = pair
    server.clock.advance(minutes=2)  # the next request refreshes last_used_at: a write
    with sqlite_write_lock(database_url):
        response = await alice.client.get("/me")
    assert_unavailable(response)


@sqlite_only
async def test_a_socket_that_cannot_authenticate_for_the_lock_closes_with_1013(
    database_url: str, server: RunningServer, pair: tuple[SignedInUser, SignedInUser]
) -> None:
    """A socket whose sign-in cannot be written closes with 1013 (try again later)."""
    alice, _bob = pair
    server.clock.advance(minutes=2)
    with sqlite_write_lock(database_url):
        async with open_ws(server, alice.token) as ws:
            await ws.expect_closed(CLOSE_TRY_AGAIN_LATER, DEADLINE)


def test_the_busy_timeout_is_a_duration_setting() -> None:
    """GKCHAT_SQLITE_BUSY_TIMEOUT takes a duration; zero or less is refused."""
    assert Settings(_env_file=None, sqlite_busy_timeout="2s").sqlite_busy_timeout == timedelta(
        seconds=2
    )
    with pytest.raises(ValueError, match="positive"):
        Settings(_env_file=None, sqlite_busy_timeout="0")


# --- PostgreSQL: the server's backend is terminated -----------------------------------------


@asynccontextmanager
async def holding_rows(database_url: str, table: Table) -> AsyncIterator[AsyncConnection]:
    """A transaction of the test's own that holds every row of ``table`` locked."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            await conn.begin()
            await conn.execute(select(*table.primary_key.columns).with_for_update())
            yield conn
            await conn.rollback()
    finally:
        await engine.dispose()


async def terminate_waiting_backend(holder: AsyncConnection) -> None:
    """Wait until a server backend is blocked on ``holder``'s lock, then terminate it."""
    async with asyncio.timeout(DEADLINE):
        while True:
            killed = await holder.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND wait_event_type = 'Lock'"
                )
            )
            if killed.all():
                return
            await asyncio.sleep(0.02)  # polling for the blocked backend to appear


@postgres_only
async def test_an_edit_whose_connection_is_terminated_is_503(
    database_url: str, pair: tuple[SignedInUser, SignedInUser]
) -> None:
    """pg_terminate_backend on the backend serving an edit answers 503 with Retry-After."""
    alice, bob = pair
    message = await send(alice, bob, "before")
    async with holding_rows(database_url, tables.messages) as holder:
        edit = asyncio.create_task(
            alice.client.patch(f"/messages/{message['id']}", json={"content": "after"})
        )
        await terminate_waiting_backend(holder)
        response = await edit
    assert_unavailable(response)


@postgres_only
async def test_a_send_whose_connection_is_terminated_is_503_then_the_retry_is_stored_once(
    database_url: str, pair: tuple[SignedInUser, SignedInUser]
) -> None:
    """A send cut off by pg_terminate_backend is 503; the retry is 201 and stored once."""
    alice, bob = pair
    await send(alice, bob, "first")
    client_id = str(uuid.uuid4())
    async with holding_rows(database_url, tables.conversations) as holder:
        sending = asyncio.create_task(post_message(alice, bob.id, "cut off", client_id))
        await terminate_waiting_backend(holder)
        cut = await sending
    retried = await post_message(alice, bob.id, "cut off", client_id)
    assert_unavailable(cut)
    assert retried.status_code == 201, retried.text
    history = await alice.client.get(f"/conversations/{bob.id}/messages")
    contents = [m["content"] for m in history.json()["messages"]]
    assert contents == ["cut off", "first"]


@postgres_only
async def test_the_server_recovers_by_itself_after_every_connection_is_terminated(
    database_url: str, pair: tuple[SignedInUser, SignedInUser]
) -> None:
    """After all its backends are terminated, the server's next requests succeed unaided."""
    alice, bob = pair
    await send(alice, bob, "warm the pool")
    engine = create_async_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await engine.dispose()
    sent = await send(alice, bob, "after the cut")
    history = await bob.client.get(f"/conversations/{alice.id}/messages")
    assert history.json()["messages"][0]["id"] == sent["id"]
    assert json.loads((await alice.client.get("/me")).text)["id"] == alice.id
