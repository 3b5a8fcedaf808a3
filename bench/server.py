"""The system under test: a scratch database and a real ``gkchat serve`` process.

The server runs as ``python -m gkchat serve`` on a loopback port with rate limits off, a
temporary data directory and ``GKCHAT_DIAGNOSTICS=on``, pinned to CPU 0 when the machine has
more than one (the load generators take CPU 1). Its CPU time, RSS and open descriptors are read
from ``/proc``; its event-loop stalls and GC pauses from ``GET /api/v1/diagnostics``.
"""

import asyncio
import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import asyncpg
import httpx
from sqlalchemy.engine import make_url

SERVER_CPU = 0
GENERATOR_CPU = 1
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# The diagnostics the server reports (GET /api/v1/diagnostics); the suite records these.
STALL_KEYS = (
    "loop_stall_max_ms",
    "loop_stalls_over_50ms",
    "gc_pause_max_ms",
    "gc_pauses_over_50ms",
    "gc_pause_max_ms_by_generation",
    "gc_collections",
    "gc_slow",
    "stall_stacks",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def can_pin() -> bool:
    """Pin server and generators to separate CPUs only when both are ours to use."""
    if not hasattr(os, "sched_setaffinity"):
        return False
    return {SERVER_CPU, GENERATOR_CPU} <= os.sched_getaffinity(0)


def raise_fd_limit() -> int:
    """Raise this process's RLIMIT_NOFILE soft limit to the hard limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def postgres_admin_url(url: str | None) -> str:
    """The PostgreSQL server to make scratch databases on, as a plain ``postgresql://`` URL."""
    chosen = (
        url
        or os.environ.get("GKCHAT_BENCH_POSTGRES_URL")
        or os.environ.get("GKCHAT_TEST_POSTGRES_URL")
        or DEFAULT_POSTGRES_URL
    )
    return make_url(chosen).set(drivername="postgresql").render_as_string(hide_password=False)


class ScratchDatabase:
    """A database that exists for one benchmark run and is deleted afterwards.

    SQLite: a file in a fresh temporary directory (optionally a copy of a prepared file).
    PostgreSQL: ``gkchat_bench_<pid>_<random>`` on the admin URL's server (optionally cloned
    from a prepared template database), dropped on close.
    """

    def __init__(self, kind: str, *, admin_url: str | None = None) -> None:
        if kind not in ("sqlite", "postgres"):
            raise ValueError(f"unknown database {kind!r}: sqlite or postgres")
        self.kind = kind
        self.data_dir = Path(tempfile.mkdtemp(prefix="gkchat-bench-"))
        self.admin_url = postgres_admin_url(admin_url) if kind == "postgres" else ""
        self.name = f"gkchat_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self._created = False

    @property
    def url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.data_dir / 'gkchat.db'}"
        return make_url(self.admin_url).set(database=self.name).render_as_string(False)

    def create(self, *, template: str | Path | None = None) -> None:
        if self.kind == "sqlite":
            if template is not None:
                shutil.copyfile(template, self.data_dir / "gkchat.db")
            return
        clause = f' TEMPLATE "{template}"' if template else ""
        run_admin(self.admin_url, f'CREATE DATABASE "{self.name}"{clause}')
        self._created = True

    def drop(self) -> None:
        if self._created:
            run_admin(self.admin_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self._created = False
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.drop()


def run_admin(admin_url: str, *statements: str) -> list[list[dict[str, Any]]]:
    """Run statements outside a transaction on the PostgreSQL server (CREATE/DROP DATABASE)."""

    async def go() -> list[list[dict[str, Any]]]:
        conn = await asyncpg.connect(admin_url)
        try:
            return [[dict(r) for r in await conn.fetch(s)] for s in statements]
        finally:
            await conn.close()

    return asyncio.run(go())


class Server:
    """``python -m gkchat serve`` on a loopback port, started on ``with`` and stopped after."""

    def __init__(
        self,
        database: ScratchDatabase,
        *,
        env: dict[str, str] | None = None,
        pin: bool = True,
        profile: Path | None = None,
    ) -> None:
        self.database = database
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.api = f"{self.base}/api/v1"
        self.ws_url = f"ws://127.0.0.1:{self.port}/api/v1/ws"
        self.pinned = pin and can_pin()
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)
        self._http = httpx.Client(timeout=30)
        self.diagnostics_available: bool | None = None
        # With a path: py-spy samples the server into it (collapsed stacks) while it runs.
        self.profile = profile
        self._profiler: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        env = {
            **os.environ,
            "GKCHAT_DATA_DIR": str(self.database.data_dir),
            "GKCHAT_DATABASE_URL": self.database.url,
            "GKCHAT_RATE_LIMITS": "off",
            "GKCHAT_DIAGNOSTICS": "on",
            "GKCHAT_LOG_LEVEL": "warning",
            "GKCHAT_MAX_SESSIONS_PER_USER": "100000",
            "GKCHAT_WS_IDLE_TIMEOUT": "1h",
            "GKCHAT_WS_MAX_CONNECTIONS_PER_USER": "100000",
            **self.extra_env,
        }
        pinned = self.pinned

        def prepare() -> None:  # runs in the child between fork and exec
            raise_fd_limit()
            if pinned:
                os.sched_setaffinity(0, {SERVER_CPU})

        command = [sys.executable, "-m", "gkchat", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=prepare,
            cwd=self.database.data_dir,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{self.log_tail()}")
            try:
                if self._http.get(f"{self.api}/health").status_code == 200:
                    self.diagnostics_available = self.diagnostics() is not None
                    self._start_profiler()
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server did not answer within 120 s:\n{self.log_tail()}")

    def _start_profiler(self) -> None:
        if self.profile is None:
            return
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(py_spy).exists():
            raise RuntimeError("--profile needs py-spy: pip install -e '.[bench]'")
        command = [py_spy, "record", "--pid", str(self.pid), "--rate", "200", "--format", "raw"]
        self._profiler = subprocess.Popen(
            [*command, "--output", str(self.profile), "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self._profiler is not None:
            self._profiler.send_signal(signal.SIGINT)
            try:
                self._profiler.wait(60)
            except subprocess.TimeoutExpired:
                self._profiler.kill()
            self._profiler = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._http.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._log.close()

    def log_tail(self, size: int = 4000) -> str:
        self._log.flush()
        self._log.seek(0, os.SEEK_END)
        end = self._log.tell()
        self._log.seek(max(0, end - size))
        return self._log.read().decode(errors="replace")

    # What /proc says

    def pids(self) -> list[int]:
        """The server process and its descendants (the workers of ``--workers N``)."""
        parents: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    ppid = int(Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                parents.setdefault(ppid, []).append(int(entry.name))
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(parents.get(pid, []))
        return found

    def cpu_seconds(self) -> float:
        """User plus system CPU seconds of the server's processes, all threads included."""
        ticks = 0
        for pid in self.pids():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def database_backends(self) -> dict[int, float] | None:
        """CPU seconds of each PostgreSQL backend serving this run's database, by process id
        (None on SQLite, which runs inside the server and is in its CPU already)."""
        if self.database.kind != "postgres":
            return None
        marker = f" {self.database.name} ".encode()
        backends: dict[int, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                cmdline = Path(entry.path, "cmdline").read_bytes()
                if not cmdline.startswith(b"postgres:") or marker not in cmdline:
                    continue
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            backends[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
        return backends

    def rss_bytes(self) -> int:
        """Resident memory of the server's processes."""
        total = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        return total

    def open_fds(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                total += len(os.listdir(f"/proc/{pid}/fd"))
        return total

    # What the server says about itself

    def diagnostics(self, *, gc_frozen: bool = False) -> dict[str, Any] | None:
        """``GET /api/v1/diagnostics``, or None when this server does not have it. With
        ``gc_frozen``, the count of frozen objects too, whose walk stalls the server's loop
        (about 130 ms at 10,000 sockets): only where that stall is not being measured."""
        if self.diagnostics_available is False:
            return None
        params = {"gc_frozen": "true"} if gc_frozen else {}
        try:
            response = self._http.get(f"{self.api}/diagnostics", params=params)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        body = response.json()
        return body if isinstance(body, dict) else None

    def reset_diagnostics(self) -> None:
        if self.diagnostics_available:
            with contextlib.suppress(httpx.HTTPError):
                self._http.post(f"{self.api}/diagnostics/reset")

    def stalls(self) -> dict[str, Any]:
        """The worst loop stall and GC pause since the last reset, and the stacks the loop was
        caught in during stalls (None where unknown)."""
        found = self.diagnostics() or {}
        return {key: found.get(key) for key in STALL_KEYS}


class Meter:
    """Server CPU and wall time over a measured window, and the diagnostics for it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cpu = 0.0
        self.wall = 0.0
        self.stalls: dict[str, Any] = {}
        self.database_cpu: float | None = None
        self.database_connections_opened: int | None = None
        self._db0: dict[int, float] | None = None
        self._cpu0 = 0.0
        self._t0 = 0.0

    def __enter__(self) -> Self:
        self.server.reset_diagnostics()
        self._cpu0 = self.server.cpu_seconds()
        self._db0 = self.server.database_backends()
        self._t0 = time.monotonic()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cpu = self.server.cpu_seconds() - self._cpu0
        db1 = self.server.database_backends()
        if db1 is not None and self._db0 is not None:
            # Backends that ended during the window took their last CPU with them: a floor.
            before = self._db0
            self.database_cpu = sum(cpu - before.get(pid, 0.0) for pid, cpu in db1.items())
            self.database_connections_opened = len(db1.keys() - before.keys())
        self.wall = time.monotonic() - self._t0
        self.stalls = self.server.stalls()

    def result(self, work: int) -> dict[str, Any]:
        """The server's CPU per unit of ``work`` (messages, requests) and its utilisation;
        on PostgreSQL also the database backends' CPU per unit."""
        db = self.database_cpu
        return {
            "database_connections_opened": self.database_connections_opened,
            "database_cpu_ms_per_op": round(db / work * 1000, 4)
            if db is not None and work
            else None,
            "server_cpu_s": round(self.cpu, 3),
            "server_cpu_utilisation": round(self.cpu / self.wall, 3) if self.wall else None,
            "server_cpu_ms_per_op": round(self.cpu / work * 1000, 4) if work else None,
            "ops_per_server_cpu_s": round(work / self.cpu) if self.cpu > 0 else None,
            **self.stalls,
        }
