"""Redis for tests: the shared server named by GKCHAT_TEST_REDIS_URL, or a private one.

Tests that stop Redis start their own ``redis-server`` on a free port (never the shared one,
which other test runs use at the same time).
"""

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from gkchat.realtime.redis_names import split_hub_url
from tests.support.databases import REDIS_ENV, redis_test_url
from tests.support.process import free_port

READY_TIMEOUT = 10.0


def shared_redis_url() -> str:
    """The shared test Redis; skips the test when GKCHAT_TEST_REDIS_URL is unset."""
    url = redis_test_url()
    if url is None:
        pytest.skip(f"Redis tests need {REDIS_ENV}=redis://host:6379/0")
    return url


def isolated(url: str) -> str:
    """``url`` with a prefix of its own: nothing else on that Redis sees its keys or channels
    (a node of another test run must not sweep this run's nodes, nor the other way round)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}prefix=test-{secrets.token_hex(6)}"


def forget(hub_url: str) -> None:
    """Delete every key under ``hub_url``'s prefix: what nodes killed with SIGKILL left (their
    presence sets have no expiry, since a live node would sweep them)."""
    url, names = split_hub_url(hub_url)
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{names.prefix}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class RedisServer:
    """A private ``redis-server`` that a test may stop and start again on the same port."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("this test needs the redis-server program")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                *(self.binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.02)  # polling for readiness
        finally:
            client.close()

    def stop(self) -> None:
        """Kill the server (its data is gone: it never saves)."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait(READY_TIMEOUT)


@contextmanager
def private_redis(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
