"""The periodic clean-up: dead sessions and stale throttle windows go; live ones stay."""

from datetime import timedelta

from sqlalchemy import Table, func, select

from gkchat.db.tables import sessions, throttle_counters
from gkchat.services.maintenance import run_once
from tests.conftest import ServerStarter
from tests.support.clock import FakeClock
from tests.support.factories import UserFactory
from tests.support.server import RunningServer


async def rows(server: RunningServer, table: Table) -> int:
    async with server.app.state.services.db.read() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_idle_sessions_are_deleted(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """A session unused past the idle timeout is deleted; a fresh one stays."""
    await users.register()
    clock.advance(days=8)
    fresh = await users.register()

    await run_once(server.app.state.services)

    assert await rows(server, sessions) == 1
    assert (await fresh.get("/me")).status_code == 200


async def test_sessions_past_their_hard_limit_are_deleted(
    server: RunningServer, users: UserFactory, clock: FakeClock
) -> None:
    """A session used every few days is still deleted once its 30-day lifetime has passed."""
    alice = await users.register()
    for _ in range(5):
        clock.advance(days=5, minutes=1)
        assert (await alice.get("/me")).status_code == 200
    clock.advance(days=5, minutes=1)

    await run_once(server.app.state.services)

    assert await rows(server, sessions) == 0


async def test_stale_throttle_windows_are_deleted(
    start_server: ServerStarter, clock: FakeClock
) -> None:
    """Failure counters whose window has passed are deleted; a current one stays."""
    server = await start_server(rate_limits=True)
    async with UserFactory(server.api_url) as users:
        client = users.client()
        await client.post("/auth/login", json={"login": "ghost", "password": "wrong password"})
        clock.advance(server.settings.login_window + timedelta(seconds=1))
        await client.post("/auth/login", json={"login": "spectre", "password": "wrong password"})

        await run_once(server.app.state.services)

    # The second failure's account and address windows remain; the first account's is gone.
    assert await rows(server, throttle_counters) == 2


async def test_sign_up_windows_outlive_the_login_window(
    start_server: ServerStarter, clock: FakeClock
) -> None:
    """A sign-up counter is kept for its own, longer window, and deleted after it."""
    server = await start_server(rate_limits=True)
    async with UserFactory(server.api_url) as users:
        await users.register()
    clock.advance(server.settings.login_window + timedelta(seconds=1))
    await run_once(server.app.state.services)
    kept = await rows(server, throttle_counters)
    clock.advance(server.settings.register_window)
    await run_once(server.app.state.services)

    assert (kept, await rows(server, throttle_counters)) == (1, 0)
