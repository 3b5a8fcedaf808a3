"""The caller's address: the TCP peer, unless the peer is a trusted proxy.

Behind trusted proxies the address is the rightmost X-Forwarded-For hop that is not itself a
trusted proxy: everything to the left of it was written by the client and may be forged.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from starlette.requests import Request

from gkchat.api.deps import client_address
from gkchat.clock import SystemClock
from gkchat.config import Settings
from gkchat.services.container import Services

PROXIES = "10.0.0.0/8, 192.168.1.5, fd00::/8"
Resolve = Callable[..., Awaitable[str | None]]


def make_request(peer: str | None, forwarded_for: list[str]) -> Request:
    """An HTTP request from ``peer`` carrying one X-Forwarded-For header line per entry."""
    headers = [(b"x-forwarded-for", value.encode("latin-1")) for value in forwarded_for]
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/api/v1/auth/login",
            "query_string": b"",
            "headers": headers,
            "client": (peer, 51234) if peer is not None else None,
            "server": ("127.0.0.1", 8000),
            "scheme": "http",
        }
    )


@pytest.fixture
async def resolve(tmp_path: Path) -> AsyncIterator[Resolve]:
    """``resolve(peer, *xff_lines, trusted=...)`` -> the address the server attributes."""
    built: dict[str, Services] = {}

    def services_trusting(trusted: str) -> Services:
        if trusted not in built:
            settings = Settings(
                _env_file=None,
                database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
                trusted_proxies=trusted,
            )
            built[trusted] = Services.build(settings, SystemClock())
        return built[trusted]

    async def resolve(peer: str | None, *forwarded_for: str, trusted: str = PROXIES) -> str | None:
        request = make_request(peer, list(forwarded_for))
        return await client_address(request, services_trusting(trusted))

    yield resolve
    for services in built.values():
        await services.close()


async def test_peer_is_the_address_without_forwarded_for(resolve: Resolve) -> None:
    """A direct client is known by its TCP peer address."""
    assert await resolve("203.0.113.9") == "203.0.113.9"


async def test_forwarded_for_is_ignored_when_no_proxy_is_trusted(resolve: Resolve) -> None:
    """With no trusted proxies configured, X-Forwarded-For means nothing."""
    assert await resolve("10.0.0.1", "198.51.100.7", trusted="") == "10.0.0.1"


async def test_untrusted_peer_cannot_set_its_address(resolve: Resolve) -> None:
    """An X-Forwarded-For from a peer that is not a trusted proxy is ignored."""
    assert await resolve("203.0.113.9", "198.51.100.7") == "203.0.113.9"


async def test_trusted_proxy_forwards_the_client_address(resolve: Resolve) -> None:
    """Behind one trusted proxy, the address is the hop the proxy appended."""
    assert await resolve("10.0.0.1", "198.51.100.7") == "198.51.100.7"


async def test_trusted_single_address_is_a_proxy(resolve: Resolve) -> None:
    """A trusted proxy given as a bare address (a /32) is trusted."""
    assert await resolve("192.168.1.5", "198.51.100.7") == "198.51.100.7"


async def test_neighbour_of_a_trusted_single_address_is_not_a_proxy(resolve: Resolve) -> None:
    """Trusting 192.168.1.5 does not trust 192.168.1.6."""
    assert await resolve("192.168.1.6", "198.51.100.7") == "192.168.1.6"


async def test_rightmost_untrusted_hop_wins(resolve: Resolve) -> None:
    """Through a chain of trusted proxies, the client is the nearest hop none of them is."""
    assert await resolve("10.0.0.1", "198.51.100.7, 10.2.2.2, 10.3.3.3") == "198.51.100.7"


async def test_spoofed_leftmost_entries_are_ignored(resolve: Resolve) -> None:
    """Entries the client wrote itself, left of the real hop, do not count."""
    assert await resolve("10.0.0.1", "1.2.3.4, 8.8.8.8, 198.51.100.7") == "198.51.100.7"


async def test_spoofed_trusted_looking_entry_is_not_skipped_past(resolve: Resolve) -> None:
    """A forged trusted-looking entry left of the real client does not shift the answer."""
    assert await resolve("10.0.0.1", "10.9.9.9, 198.51.100.7, 10.2.2.2") == "198.51.100.7"


async def test_spoofed_separate_header_line_is_ignored(resolve: Resolve) -> None:
    """A forged X-Forwarded-For line before the one the proxy added does not count.

    Proxies such as HAProxy (``option forwardfor``) add their own header line rather than
    appending to the client's; the lines together are one list (RFC 9110, section 5.3).
    """
    assert await resolve("10.0.0.1", "1.2.3.4", "198.51.100.7") == "198.51.100.7"


async def test_trusted_proxy_without_forwarded_for_is_the_address(resolve: Resolve) -> None:
    """A request from a trusted proxy that names no client is attributed to the proxy."""
    assert await resolve("10.0.0.1") == "10.0.0.1"


@pytest.mark.parametrize("hop", ["unknown", "198.51.100.7:4711", "_hidden", "not an ip"])
async def test_malformed_nearest_hop_falls_back_to_the_peer(resolve: Resolve, hop: str) -> None:
    """If the nearest untrusted hop is not an IP, the peer is used, not an older entry."""
    assert await resolve("10.0.0.1", f"203.0.113.50, {hop}") == "10.0.0.1"


async def test_empty_entries_are_skipped(resolve: Resolve) -> None:
    """Blank items in the list (``a, , b``) are not hops."""
    assert await resolve("10.0.0.1", "198.51.100.7, , ") == "198.51.100.7"


async def test_ipv6_proxy_forwards_ipv6_client(resolve: Resolve) -> None:
    """Trusted IPv6 proxies and IPv6 clients work the same way."""
    assert await resolve("fd00::1", "2001:db8::7, fd12::2") == "2001:db8::7"


async def test_missing_peer_is_no_address(resolve: Resolve) -> None:
    """A request without a known peer has no address, whatever its headers say."""
    assert await resolve(None, "198.51.100.7") is None
