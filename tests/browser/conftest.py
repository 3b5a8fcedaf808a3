"""Fixtures for browser tests: Debian's Chromium driving the web client on a real server.

Each test gets a fresh SQLite database (browser tests do not run again on PostgreSQL: the
client cannot tell the backends apart, and the API tests cover both), a server on a loopback
port it keeps across restarts, and fresh browser contexts (cookie jars). Chromium itself is
started once per session (per xdist worker), which is why these tests and their fixtures run
in the session's event loop: Playwright objects belong to the loop that made them. A test
fails when any page it opened throws an uncaught exception or opens a JavaScript dialog.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from tests.conftest import make_settings
from tests.support import databases
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_MISSING,
    Browsers,
    LiveClock,
    LiveServer,
    chromium,
)
from tests.support.factories import UserFactory

HERE = Path(__file__).resolve().parent
SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this directory's tests in the session's event loop, beside the shared Chromium."""
    for item in items:
        if HERE in item.path.parents and pytest_asyncio.is_async_test(item):
            item.add_marker(SESSION_LOOP, append=False)


@pytest.fixture(scope="session", autouse=True)
def _needs_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.skip(CHROMIUM_MISSING)


@pytest.fixture
def clock() -> LiveClock:
    return LiveClock()


@pytest_asyncio.fixture(loop_scope="session")
async def live_server(
    sqlite_template: Path, tmp_path: Path, clock: LiveClock
) -> AsyncIterator[LiveServer]:
    """The app on SQLite with rate limits off, on a loopback port it keeps across restarts."""
    url = databases.sqlite_copy(sqlite_template, tmp_path)
    server = LiveServer(make_settings(url, tmp_path, rate_limits=False), clock)
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def users(live_server: LiveServer) -> AsyncIterator[UserFactory]:
    """Accounts made through the API (faster than the sign-up form, and with a token)."""
    factory = UserFactory(live_server.api_url)
    yield factory
    await factory.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def shared_chromium() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser


@pytest_asyncio.fixture(loop_scope="session")
async def browsers(shared_chromium: Browser, live_server: LiveServer) -> AsyncIterator[Browsers]:
    """Pages for this test; fails the test on any uncaught page error or JS dialog."""
    if not shared_chromium.is_connected():
        pytest.fail("Chromium has gone away (crashed?)", pytrace=False)
    launched = Browsers(shared_chromium, live_server.base_url)
    try:
        yield launched
    finally:
        await launched.close()
    problems = [f"uncaught page error: {e}" for e in launched.errors]
    problems += [f"unexpected dialog: {d}" for d in launched.dialogs]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
