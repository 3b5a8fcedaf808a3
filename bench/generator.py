"""Load generator processes and the lean clients they drive.

A generator is an ``async def job(spec, channel) -> dict`` run in its own process (spawned,
pinned to CPU 1, with uvloop and a raised descriptor limit), so that the server on CPU 0 and the
load never share a core or an event loop. The orchestrator talks to its generators through a
pipe: it can tell them when to start or stop and collect what each measured.

The clients are deliberately thin: the ``websockets`` asyncio client with orjson for frames,
and a raw keep-alive HTTP/1.1 client on asyncio streams, so that a generator costs far less
CPU per message than the server does. Each job reports the share of one CPU it used while
measuring; above ``SATURATED`` the figures may describe the generator rather than the server.
"""

import asyncio
import contextlib
import importlib
import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Coroutine, Sequence
from multiprocessing.connection import Connection
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from bench.server import GENERATOR_CPU, can_pin, raise_fd_limit

SATURATED = 0.85
Job = Callable[[dict[str, Any], "Channel"], Coroutine[Any, Any, dict[str, Any]]]


class Channel:
    """The generator's end of its pipe to the orchestrator."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def send(self, message: Any) -> None:
        self._conn.send(message)

    async def recv(self) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, self._conn.recv)


def cpu_time() -> float:
    """This process's user plus system CPU seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Busy:
    """How much of one CPU this generator used over a window (``with Busy() as busy``)."""

    def __init__(self) -> None:
        self.share = 0.0
        self._cpu = 0.0
        self._t0 = 0.0

    def __enter__(self) -> "Busy":
        self._cpu, self._t0 = cpu_time(), time.monotonic()
        return self

    def __exit__(self, *_: object) -> None:
        wall = time.monotonic() - self._t0
        self.share = (cpu_time() - self._cpu) / wall if wall > 0 else 0.0


def generator_share(shares: Sequence[float]) -> float:
    """How busy the generators' CPU was: pinned, they all share CPU 1, so their shares add
    up; unpinned, each may have a CPU of its own and the busiest one tells."""
    if not shares:
        return 0.0
    return sum(shares) if can_pin() else max(shares)


def _child(job_path: str, spec: dict[str, Any], conn: Connection, pin: bool) -> None:
    raise_fd_limit()
    if pin:
        os.sched_setaffinity(0, {GENERATOR_CPU})
    module, _, name = job_path.rpartition(".")
    job: Job = getattr(importlib.import_module(module), name)
    channel = Channel(conn)
    result: dict[str, Any]
    try:
        import uvloop

        result = uvloop.run(job(spec, channel))
    except ImportError:
        result = asyncio.run(job(spec, channel))
    except BaseException as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        raise
    conn.send(("result", result))


class Generators:
    """Several generator processes running the same job with different specs."""

    def __init__(self, job: Job, specs: Sequence[dict[str, Any]]) -> None:
        context = multiprocessing.get_context("spawn")
        job_path = f"{job.__module__}.{job.__qualname__}"
        pin = can_pin()
        self._pipes: list[Connection] = []
        self._processes = []
        for spec in specs:
            mine, theirs = context.Pipe()
            process = context.Process(
                target=_child, args=(job_path, spec, theirs, pin), daemon=True
            )
            process.start()
            theirs.close()
            self._pipes.append(mine)
            self._processes.append(process)

    def recv_all(self, timeout: float = 600) -> list[Any]:
        """One message from every generator (in order); an error in one raises here."""
        messages = []
        for pipe in self._pipes:
            if not pipe.poll(timeout):
                raise TimeoutError("a load generator did not answer")
            kind, payload = pipe.recv()
            if kind == "error":
                raise RuntimeError(f"a load generator failed: {payload}")
            messages.append(payload)
        return messages

    def send_all(self, message: Any) -> None:
        for pipe in self._pipes:
            pipe.send(("go", message))

    def results(self, timeout: float = 600) -> list[dict[str, Any]]:
        results = self.recv_all(timeout)
        self.close()
        return results

    def close(self) -> None:
        for process in self._processes:
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)
        for pipe in self._pipes:
            pipe.close()


def run_generators(job: Job, specs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run ``job`` once per spec, each in its own process; return their results in order."""
    group = Generators(job, specs)
    try:
        return group.results()
    finally:
        group.close()


async def report(channel: Channel, payload: Any) -> Any:
    """Tell the orchestrator something and wait for its answer (a step barrier)."""
    channel.send(("step", payload))
    kind, answer = await channel.recv()
    assert kind == "go"
    return answer


async def sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


# WebSocket


async def open_socket(ws_url: str, token: str) -> ClientConnection:
    """An authenticated socket, returned once the server has said ``ready``."""
    ws = await connect(
        ws_url,
        additional_headers={"Authorization": f"Bearer {token}"},
        max_size=2**20,
        ping_interval=None,
        compression=None,
        open_timeout=60,
    )
    while True:
        frame = orjson.loads(await ws.recv())
        if frame.get("type") == "ready":
            return ws


def send_frame(recipient_id: str, content: str, client_id: str) -> bytes:
    return orjson.dumps(
        {
            "type": "message.send",
            "data": {"recipient_id": recipient_id, "content": content, "client_id": client_id},
        }
    )


async def close_all(sockets: Sequence[ClientConnection]) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


# HTTP/1.1


class HTTPConnection:
    """One keep-alive HTTP/1.1 connection: a request at a time, bodies by Content-Length.

    Enough for GK-Chat's JSON API (uvicorn always sends Content-Length for these), and an
    order of magnitude cheaper per request than a general client.
    """

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.host, self.port = host, port
        self._auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = None
    ) -> tuple[int, Any]:
        """Send a request and read the answer: (status, parsed JSON body or None)."""
        if self._writer is None or self._writer.is_closing():
            await self._connect()
        assert self._reader is not None
        assert self._writer is not None
        payload = orjson.dumps(body) if body is not None else b""
        auth = f"Authorization: Bearer {token}\r\n".encode() if token else self._auth
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n".encode()
            + auth
            + (b"Content-Type: application/json\r\n" if body is not None else b"")
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
        )
        self._writer.write(head + payload)
        status_line = await self._reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        close = False
        while True:
            line = await self._reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        data = await self._reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, orjson.loads(data) if data else None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()
            self._writer = None
