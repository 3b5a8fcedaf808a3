"""A real ``gkchat serve`` process on a loopback port, for end-to-end tests with the SDK.

The server runs as ``python -m gkchat serve`` with an environment stripped of the outer
GKCHAT_* variables, rate limits off, and either SQLite in a temporary data directory or a
fresh PostgreSQL database. It can be stopped and started again on the same port and database,
which is how tests make clients lose their connections.
"""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.support import databases

BACKENDS = ["sqlite", "postgres"]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
POLL_INTERVAL = 0.05


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def clean_environment(**values: str) -> dict[str, str]:
    """The outer environment without GKCHAT_* variables, plus ``values``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GKCHAT_")}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", TERM="dumb")
    env.update(values)
    return env


class ServerProcess:
    """One ``gkchat serve`` subprocess; :meth:`restart` keeps its port and database."""

    def __init__(
        self, backend: str, env: dict[str, str], directory: Path, args: Sequence[str] = ()
    ) -> None:
        self.backend = backend
        self.env = env
        self.directory = directory
        self.args = tuple(args)  # more `gkchat serve` options, such as ("--workers", "2")
        self.port = free_port()
        self.log_path = directory / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v1"

    def output(self) -> str:
        """Everything the server has logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        """Start the process and wait until GET /api/v1/health answers 200."""
        assert self.process is None, "already running"
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gkchat", "serve"),
                *("--host", "127.0.0.1", "--port", str(self.port)),
                *self.args,
            ],
            env=self.env,
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        with httpx.Client(timeout=5) as probe:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"gkchat serve exited with {self.process.returncode}:\n{self.output()}"
                    )
                try:
                    if probe.get(f"{self.api_url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(POLL_INTERVAL)  # polling for readiness, not timing a test
        raise RuntimeError(f"gkchat serve not ready within {READY_TIMEOUT}s:\n{self.output()}")

    def stop(self) -> int:
        """SIGTERM the process (SIGKILL if it lingers) and return its exit status."""
        process, self.process = self.process, None
        if process is None:
            return 0
        try:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(STOP_TIMEOUT)
            return process.returncode
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def kill(self) -> None:
        """SIGKILL the process: it ends without closing anything."""
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait(STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop the server and start it again on the same port and database (blocking: from
        async code, run it with ``asyncio.to_thread``)."""
        self.stop()
        self.start()


@contextmanager
def serve_process(backend: str, directory: Path, worker_id: str) -> Iterator[ServerProcess]:
    """A started server on ``backend`` (PostgreSQL skips unless GKCHAT_TEST_POSTGRES_URL)."""
    admin_url = None
    if backend == "postgres":
        admin_url = databases.postgres_admin_url()
        if admin_url is None:
            pytest.skip(f"PostgreSQL tests need {databases.POSTGRES_ENV}=postgresql://user@host/db")
    with started_server(
        backend, directory, admin_url, databases.scratch_name("sdk", worker_id)
    ) as server:
        yield server


@contextmanager
def started_server(
    backend: str, directory: Path, admin_url: str | None, database_name: str
) -> Iterator[ServerProcess]:
    """A started ``gkchat serve`` (rate limits off) on a fresh SQLite file in ``directory``, or
    on a scratch PostgreSQL database ``database_name`` made on ``admin_url`` and dropped after."""
    env = clean_environment(GKCHAT_DATA_DIR=str(directory / "data"), GKCHAT_RATE_LIMITS="off")
    created = False
    if backend == "postgres":
        if admin_url is None:
            raise RuntimeError(f"PostgreSQL needs {databases.POSTGRES_ENV}")
        env["GKCHAT_DATABASE_URL"] = asyncio.run(
            databases.create_postgres_database(admin_url, database_name)
        )
        created = True
    server = ServerProcess(backend, env, directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if created and admin_url is not None:
            asyncio.run(databases.drop_postgres_database(admin_url, database_name))
