"""GET /diagnostics: loop stalls, GC pauses, memory and connections, only when switched on."""

import asyncio
import gc
import time

import httpx
import pytest

from tests.conftest import ServerStarter
from tests.support.api_errors import assert_error
from tests.support.factories import UserFactory
from tests.support.ws import open_ws

# Process diagnostics do not depend on the database: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

KEYS = {
    "loop_stall_max_ms",
    "loop_stalls_over_50ms",
    "gc_pause_max_ms",
    "gc_pauses_over_50ms",
    "rss_bytes",
    "open_fds",
    "connections",
}


async def test_diagnostics_are_off_by_default(start_server: ServerStarter) -> None:
    """Without GKCHAT_DIAGNOSTICS the endpoints do not exist (404 in the error shape)."""
    server = await start_server()
    async with httpx.AsyncClient(base_url=server.api_url) as client:
        assert_error(await client.get("/diagnostics"), 404)
        assert_error(await client.post("/diagnostics/reset"), 404)


async def test_diagnostics_report_process_figures(start_server: ServerStarter) -> None:
    """When on, the snapshot carries stalls, GC pauses, RSS, fds and live connections."""
    server = await start_server(diagnostics=True)
    async with (
        UserFactory(server.api_url) as users,
        httpx.AsyncClient(base_url=server.api_url) as client,
    ):
        alice = await users.register()
        async with open_ws(server, alice.token) as ws:
            await ws.ping()
            body = (await client.get("/diagnostics")).json()

    assert set(body) >= KEYS
    assert body["connections"] == 1
    assert body["rss_bytes"] > 10_000_000
    assert body["open_fds"] > 3


async def test_a_blocked_loop_shows_as_a_stall(start_server: ServerStarter) -> None:
    """Blocking the event loop for 120 ms is reported as a stall over 50 ms."""
    server = await start_server(diagnostics=True)
    async with httpx.AsyncClient(base_url=server.api_url) as client:
        assert (await client.post("/diagnostics/reset")).status_code == 204
        await asyncio.sleep(0.05)
        time.sleep(0.12)  # the server runs in this loop: this blocks it
        await asyncio.sleep(0.05)
        body = (await client.get("/diagnostics")).json()

    assert body["loop_stall_max_ms"] >= 100
    assert body["loop_stalls_over_50ms"] >= 1


async def test_reset_zeroes_the_worst_figures(start_server: ServerStarter) -> None:
    """After a reset the stall and pause maxima start again from what happens next."""
    server = await start_server(diagnostics=True)
    async with httpx.AsyncClient(base_url=server.api_url) as client:
        time.sleep(0.08)
        await asyncio.sleep(0.03)
        gc.collect()
        await client.post("/diagnostics/reset")
        body = (await client.get("/diagnostics")).json()

    assert body["loop_stalls_over_50ms"] == 0
    assert body["loop_stall_max_ms"] < 50


async def test_frozen_objects_are_counted_only_on_request(start_server: ServerStarter) -> None:
    """``gc_frozen`` (a walk of every frozen object) is in the snapshot only when asked for."""
    server = await start_server(diagnostics=True)
    async with httpx.AsyncClient(base_url=server.api_url) as client:
        plain = (await client.get("/diagnostics")).json()
        counted = (await client.get("/diagnostics", params={"gc_frozen": "true"})).json()

    assert "gc_frozen" not in plain
    assert isinstance(counted["gc_frozen"], int)


async def test_a_malformed_gc_frozen_flag_is_a_client_error(start_server: ServerStarter) -> None:
    """A ``gc_frozen`` that is not a boolean gets a 4xx in the contract's error shape."""
    server = await start_server(diagnostics=True)
    async with httpx.AsyncClient(base_url=server.api_url) as client:
        response = await client.get("/diagnostics", params={"gc_frozen": "maybe"})

    assert_error(response, 422)
