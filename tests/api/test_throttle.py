"""Login throttling: failed sign-ins per account and per address are limited with 429."""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest

from tests.support.api_errors import assert_error
from tests.support.clock import FakeClock
from tests.support.factories import DEFAULT_PASSWORD, UserFactory, registration
from tests.support.server import RunningServer

WRONG_PASSWORD = "not the right password"
PER_ACCOUNT = 3
PER_ADDRESS = 5

FactoryFor = Callable[[RunningServer], UserFactory]
ServerStarter = Callable[..., Awaitable[RunningServer]]


@pytest.fixture
async def factory_for() -> AsyncIterator[FactoryFor]:
    """User factories for servers a test starts itself; closed when the test ends."""
    factories: list[UserFactory] = []

    def make(server: RunningServer) -> UserFactory:
        factory = UserFactory(server.api_url)
        factories.append(factory)
        return factory

    yield make
    for factory in factories:
        await factory.close()


@pytest.fixture
async def throttled(start_server: ServerStarter) -> RunningServer:
    """A server with rate limits on: 3 failures per account, 5 per address."""
    return await start_server(
        rate_limits=True,
        login_max_failures_per_account=PER_ACCOUNT,
        login_max_failures_per_address=PER_ADDRESS,
    )


async def login(
    server: RunningServer, login: str, password: str, *, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as client:
        return await client.post(
            "/auth/login", json={"login": login, "password": password}, headers=headers
        )


async def fail(server: RunningServer, login_as: str, times: int, **kwargs: str) -> None:
    """Make ``times`` failed sign-ins, each of which must be a plain 401."""
    for _ in range(times):
        assert_error(await login(server, login_as, WRONG_PASSWORD, **kwargs), 401)


def assert_throttled(response: httpx.Response) -> None:
    assert_error(response, 429, "too_many_attempts")


async def test_account_locks_after_its_failure_limit(
    throttled: RunningServer, factory_for: FactoryFor
) -> None:
    """After 3 failures on one account, the 4th attempt is 429 even with the right password."""
    await factory_for(throttled).register("alice")
    await fail(throttled, "alice", PER_ACCOUNT)

    assert_throttled(await login(throttled, "alice", DEFAULT_PASSWORD))


async def test_lockout_answer_carries_retry_after(
    throttled: RunningServer, factory_for: FactoryFor
) -> None:
    """The 429 carries Retry-After: a positive whole number of seconds within the window."""
    await factory_for(throttled).register("alice")
    await fail(throttled, "alice", PER_ACCOUNT)

    response = await login(throttled, "alice", DEFAULT_PASSWORD)

    assert_throttled(response)
    retry_after = response.headers.get("retry-after")
    assert retry_after is not None
    assert retry_after.isdigit(), retry_after
    window = int(throttled.settings.login_window.total_seconds())
    assert 1 <= int(retry_after) <= window + 1


async def test_account_lock_counts_logins_by_email_too(
    throttled: RunningServer, factory_for: FactoryFor
) -> None:
    """Failures by username and by email count for the same account."""
    alice = await factory_for(throttled).register("alice")
    await fail(throttled, "alice", PER_ACCOUNT - 1)
    await fail(throttled, alice.email.upper(), 1)

    assert_throttled(await login(throttled, "Alice", DEFAULT_PASSWORD))


async def test_locked_account_does_not_lock_others(
    throttled: RunningServer, factory_for: FactoryFor
) -> None:
    """Another account signs in from the same address while one account is locked."""
    users = factory_for(throttled)
    await users.register("alice")
    await users.register("bob")
    await fail(throttled, "alice", PER_ACCOUNT)
    assert_throttled(await login(throttled, "alice", DEFAULT_PASSWORD))

    response = await login(throttled, "bob", DEFAULT_PASSWORD)

    assert response.status_code == 200, response.text


async def test_address_locks_after_its_failure_limit(
    throttled: RunningServer, factory_for: FactoryFor
) -> None:
    """Failures spread over accounts lock every account from that address at the address limit."""
    users = factory_for(throttled)
    for name in ("alice", "bob", "carol"):
        await users.register(name)
    await fail(throttled, "alice", PER_ACCOUNT)
    await fail(throttled, "bob", PER_ADDRESS - PER_ACCOUNT - 1)
    assert (await login(throttled, "carol", DEFAULT_PASSWORD)).status_code == 200
    await fail(throttled, "bob", 1)

    assert_throttled(await login(throttled, "carol", DEFAULT_PASSWORD))


async def test_lockout_lasts_the_whole_window(
    throttled: RunningServer, factory_for: FactoryFor, clock: FakeClock
) -> None:
    """One second before the window ends, the locked account is still refused."""
    await factory_for(throttled).register("alice")
    await fail(throttled, "alice", PER_ACCOUNT)

    clock.advance(throttled.settings.login_window - timedelta(seconds=1))

    assert_throttled(await login(throttled, "alice", DEFAULT_PASSWORD))


async def test_lockout_ends_after_the_window(
    throttled: RunningServer, factory_for: FactoryFor, clock: FakeClock
) -> None:
    """Once the window has passed, the owner signs in again."""
    await factory_for(throttled).register("alice")
    await fail(throttled, "alice", PER_ACCOUNT)
    assert_throttled(await login(throttled, "alice", DEFAULT_PASSWORD))

    clock.advance(throttled.settings.login_window + timedelta(seconds=1))

    response = await login(throttled, "alice", DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text


async def test_successful_login_resets_the_account_count(
    throttled: RunningServer, factory_for: FactoryFor
) -> None:
    """A successful sign-in clears the account's failures: the limit counts from zero again."""
    await factory_for(throttled).register("alice")
    await fail(throttled, "alice", PER_ACCOUNT - 1)
    assert (await login(throttled, "alice", DEFAULT_PASSWORD)).status_code == 200

    await fail(throttled, "alice", PER_ACCOUNT - 1)

    response = await login(throttled, "alice", DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text


async def test_no_throttling_when_rate_limits_are_off(
    server: RunningServer, users: UserFactory
) -> None:
    """With rate limits off, 20 failures are all 401 and the right password still works."""
    assert server.settings.rate_limits is False
    await users.register("alice")

    await fail(server, "alice", 20)

    response = await login(server, "alice", DEFAULT_PASSWORD)
    assert response.status_code == 200, response.text


async def test_trusted_proxy_throttles_per_forwarded_address(
    start_server: ServerStarter, factory_for: FactoryFor
) -> None:
    """Behind a trusted proxy, each X-Forwarded-For address has its own failure budget."""
    server = await start_server(
        rate_limits=True,
        login_max_failures_per_account=100,
        login_max_failures_per_address=PER_ADDRESS,
        trusted_proxies=["127.0.0.1/32"],
    )
    await factory_for(server).register("alice")
    await fail(server, "alice", PER_ADDRESS, forwarded_for="203.0.113.1")

    assert_throttled(await login(server, "alice", DEFAULT_PASSWORD, forwarded_for="203.0.113.1"))
    response = await login(server, "alice", DEFAULT_PASSWORD, forwarded_for="203.0.113.2")
    assert response.status_code == 200, response.text


async def test_trusted_proxy_uses_the_hop_it_appended(
    start_server: ServerStarter, factory_for: FactoryFor
) -> None:
    """Behind a trusted proxy, a client's own X-Forwarded-For entries do not change its address."""
    server = await start_server(
        rate_limits=True,
        login_max_failures_per_account=100,
        login_max_failures_per_address=PER_ADDRESS,
        trusted_proxies=["127.0.0.1/32"],
    )
    await factory_for(server).register("alice")
    for i in range(PER_ADDRESS):
        await fail(server, "alice", 1, forwarded_for=f"198.51.100.{i}, 203.0.113.1")

    response = await login(
        server, "alice", DEFAULT_PASSWORD, forwarded_for="198.51.100.99, 203.0.113.1"
    )

    assert_throttled(response)


async def test_untrusted_forwarded_for_is_ignored(
    start_server: ServerStarter, factory_for: FactoryFor
) -> None:
    """Without trusted proxies, spoofed X-Forwarded-For headers do not escape the address limit."""
    server = await start_server(
        rate_limits=True,
        login_max_failures_per_account=100,
        login_max_failures_per_address=PER_ADDRESS,
    )
    await factory_for(server).register("alice")
    for i in range(PER_ADDRESS):
        await fail(server, "alice", 1, forwarded_for=f"203.0.113.{i + 1}")

    response = await login(server, "alice", DEFAULT_PASSWORD, forwarded_for="203.0.113.200")

    assert_throttled(response)


# Sign-ups per address

REGISTRATIONS = 3


async def register(
    server: RunningServer, body: dict[str, str] | None = None, *, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with httpx.AsyncClient(base_url=server.api_url, timeout=30) as client:
        return await client.post("/auth/register", json=body or registration(), headers=headers)


@pytest.fixture
async def sign_up_limited(start_server: ServerStarter) -> RunningServer:
    """A server with rate limits on: 3 sign-ups per address per window."""
    return await start_server(rate_limits=True, register_max_per_address=REGISTRATIONS)


async def test_sign_ups_from_one_address_are_limited(sign_up_limited: RunningServer) -> None:
    """After 3 sign-ups from one address the 4th is 429 too_many_attempts with Retry-After."""
    for _ in range(REGISTRATIONS):
        assert (await register(sign_up_limited)).status_code == 201

    response = await register(sign_up_limited)

    assert_error(response, 429, "too_many_attempts")
    retry_after = int(response.headers["retry-after"])
    assert 0 < retry_after <= int(timedelta(hours=1).total_seconds()) + 1


async def test_refused_sign_ups_count_too(sign_up_limited: RunningServer) -> None:
    """Sign-ups refused for a taken name use up the address's budget like successful ones."""
    body = registration()
    assert (await register(sign_up_limited, body)).status_code == 201
    for _ in range(REGISTRATIONS - 1):
        assert_error(await register(sign_up_limited, body), 409)

    assert_error(await register(sign_up_limited), 429, "too_many_attempts")


async def test_sign_up_limit_ends_after_the_window(
    sign_up_limited: RunningServer, clock: FakeClock
) -> None:
    """Once the window has passed, the address may sign up again."""
    for _ in range(REGISTRATIONS):
        assert (await register(sign_up_limited)).status_code == 201
    clock.advance(timedelta(hours=1, seconds=1))

    assert (await register(sign_up_limited)).status_code == 201


async def test_sign_up_limit_is_per_forwarded_address(start_server: ServerStarter) -> None:
    """Behind a trusted proxy, each X-Forwarded-For address has its own sign-up budget."""
    server = await start_server(
        rate_limits=True, register_max_per_address=1, trusted_proxies=["127.0.0.1/32"]
    )
    assert (await register(server, forwarded_for="203.0.113.1")).status_code == 201
    assert_error(await register(server, forwarded_for="203.0.113.1"), 429, "too_many_attempts")

    assert (await register(server, forwarded_for="203.0.113.2")).status_code == 201


async def test_spoofed_forwarded_for_does_not_escape_the_sign_up_limit(
    start_server: ServerStarter,
) -> None:
    """Without trusted proxies, X-Forwarded-For does not give a client new sign-up budgets."""
    server = await start_server(rate_limits=True, register_max_per_address=1)
    assert (await register(server, forwarded_for="203.0.113.1")).status_code == 201

    response = await register(server, forwarded_for="203.0.113.2")

    assert_error(response, 429, "too_many_attempts")


async def test_no_sign_up_limit_when_rate_limits_are_off(start_server: ServerStarter) -> None:
    """With rate limits off, sign-ups from one address are not counted."""
    server = await start_server(rate_limits=False, register_max_per_address=1)
    for _ in range(3):
        assert (await register(server)).status_code == 201
