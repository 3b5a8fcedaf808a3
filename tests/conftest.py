"""Shared fixtures: a clean database on each backend, a real server, signed-in users.

Every test that takes ``server`` (or anything built on it) runs once on SQLite and once on
PostgreSQL; the PostgreSQL run skips, with the reason, unless GKCHAT_TEST_POSTGRES_URL is set.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gkchat.config import Settings
from tests.support import databases
from tests.support.clock import FakeClock
from tests.support.factories import UserFactory
from tests.support.server import RunningServer, running_server

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return asyncio.run(databases.make_sqlite_template(tmp_path_factory.mktemp("template")))


@pytest.fixture(scope="session")
def postgres_url(worker_id: str) -> Iterator[str]:
    admin_url = databases.postgres_admin_url()
    if admin_url is None:
        pytest.skip(f"PostgreSQL tests need {databases.POSTGRES_ENV}=postgresql://user@host/db")
    # One database per test run and worker, so that concurrent runs never share one.
    name = databases.scratch_name("test", worker_id)
    url = asyncio.run(databases.create_postgres_database(admin_url, name))
    asyncio.run(databases.migrate(url))
    yield url
    asyncio.run(databases.drop_postgres_database(admin_url, name))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        return databases.sqlite_copy(template, tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(databases.truncate_postgres(url))
    return url


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "data_dir": data_dir,
        "rate_limits": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


ServerStarter = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def start_server(
    database_url: str, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[ServerStarter]:
    """Start servers on the test's database with settings overridden by keyword."""
    stack: list[Any] = []

    async def start(**overrides: Any) -> RunningServer:
        context = running_server(make_settings(database_url, tmp_path, **overrides), clock)
        stack.append(context)
        return await context.__aenter__()

    yield start
    for context in reversed(stack):
        await context.__aexit__(None, None, None)


@pytest.fixture
async def server(start_server: ServerStarter) -> RunningServer:
    return await start_server()


@pytest.fixture
async def users(server: RunningServer) -> AsyncIterator[UserFactory]:
    factory = UserFactory(server.api_url)
    yield factory
    await factory.close()


@pytest.fixture
async def anon(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials."""
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as client:
        yield client
