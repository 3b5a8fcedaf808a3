"""``python -m bench.socket_cost``: what one idle, authenticated WebSocket costs the server.

Runs GK-Chat in this process (uvicorn with ``gkchat serve``'s transport options, SQLite in a
temporary directory) and opens the sockets from a client process, so that the server's heap
holds only the server's side of them. Reports, per open socket: the objects the garbage
collector tracks (by type, the largest first), resident memory, and what a full collection
costs with that many sockets open; after the sockets close, the cyclic garbage they left (what
only the collector, not reference counting, frees) and the memory that did not come back.

    python -m bench.socket_cost                  1,000 sockets
    python -m bench.socket_cost --sockets 5000
"""

import argparse
import asyncio
import collections
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvicorn

from bench.generator import close_all, open_socket
from bench.seed import seed_accounts
from gkchat.app import create_app
from gkchat.config import Settings
from gkchat.db.engine import Database
from gkchat.db.migrate import upgrade
from gkchat.transport import uvicorn_options

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def tracked_by_type() -> collections.Counter[str]:
    """The collector's tracked objects (frozen ones excluded), counted by type name."""
    return collections.Counter(type(o).__qualname__ for o in gc.get_objects())


def full_collection_ms(rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _clients(ws_url: str, tokens: list[str]) -> None:
    """Client side (its own process): open every socket, say so, hold until told, close."""
    limit = asyncio.Semaphore(100)

    async def one(token: str) -> Any:
        async with limit:
            return await open_socket(ws_url, token)

    sockets = await asyncio.gather(*(one(t) for t in tokens))
    print("open", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await close_all(sockets)
    print("closed", flush=True)


class ClientProcess:
    def __init__(self, ws_url: str, tokens: list[str]) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.socket_cost", "--as-clients"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._stdin, self._stdout = self._process.stdin, self._process.stdout
        self._stdin.write(json.dumps({"ws_url": ws_url, "tokens": tokens}) + "\n")
        self._stdin.flush()

    async def wait_for(self, word: str) -> None:
        line = await asyncio.to_thread(self._stdout.readline)
        if line.strip() != word:
            raise RuntimeError(f"the client process said {line!r}, not {word!r}")

    def tell(self) -> None:
        self._stdin.write("go\n")
        self._stdin.flush()

    def finish(self) -> None:
        self._process.wait(timeout=60)


async def _settle(app: Any, open_sockets: int) -> None:
    """Wait until the server holds exactly ``open_sockets`` connections."""
    registry = app.state.services.gateway.registry
    deadline = time.monotonic() + 120
    while len(registry.all()) != open_sockets:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(registry.all())} sockets open, not {open_sockets}")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)


async def measure(count: int, top: int, *, detail: bool = False) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="gkchat-socket-cost-"))
    url = f"sqlite:///{data_dir / 'gkchat.db'}"
    database = Database(url)
    await upgrade(database)
    await database.dispose()
    accounts = await seed_accounts(url, count)
    tokens = [a["token"] for a in accounts]
    app = create_app(Settings(database_url=url, data_dir=data_dir, rate_limits=False))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    ws_url = f"ws://127.0.0.1:{sock.getsockname()[1]}/api/v1/ws"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", **uvicorn_options()))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn sets a flag, not an event)
        await asyncio.sleep(0.01)

    warm = ClientProcess(ws_url, tokens[:20])  # first-use caches fill before the baseline
    await warm.wait_for("open")
    warm.tell()
    await warm.wait_for("closed")
    warm.finish()
    await _settle(app, 0)
    gc.collect()
    gc.freeze()  # as create_app_from_env does after start-up
    before, rss_before = tracked_by_type(), rss_bytes()
    empty_ms = full_collection_ms()

    clients = ClientProcess(ws_url, tokens)
    await clients.wait_for("open")
    await _settle(app, count)
    gc.collect()
    during, rss_during = tracked_by_type(), rss_bytes()
    loaded_ms = full_collection_ms()

    if detail:
        _print_callables(count)
    gc.disable()  # only the collection below may free the sockets' cycles
    clients.tell()
    await clients.wait_for("closed")
    clients.finish()
    await _settle(app, 0)
    garbage = gc.collect()
    gc.enable()
    rss_after = rss_bytes()
    server.should_exit = True
    await serving

    grown = during - before
    return {
        "sockets": count,
        "tracked_objects_per_socket": sum(grown.values()) / count,
        "by_type_per_socket": {k: round(v / count, 2) for k, v in grown.most_common(top)},
        "rss_kib_per_socket": (rss_during - rss_before) / 1024 / count,
        "full_collection_ms_empty": empty_ms,
        "full_collection_ms_open": loaded_ms,
        "cyclic_garbage_per_closed_socket": garbage / count,
        "rss_kib_kept_per_closed_socket": (rss_after - rss_before) / 1024 / count,
    }


def _print_callables(count: int) -> None:
    """Which coroutines, tasks, functions and methods each open socket keeps alive."""
    kinds = ("coroutine", "function", "method", "Task", "Future")
    names = collections.Counter(
        getattr(o, "__qualname__", None) or repr(o)[:60]
        for o in gc.get_objects()
        if type(o).__qualname__ in kinds
    )
    print("callables alive per open socket:")
    for name, n in names.most_common():
        if n >= count:
            print(f"  {n / count:6.2f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--top", type=int, default=15, help="object types to list")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--detail", action="store_true", help="list the callables each socket keeps alive"
    )
    parser.add_argument("--as-clients", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.as_clients:
        spec = json.loads(sys.stdin.readline())
        asyncio.run(_clients(spec["ws_url"], spec["tokens"]))
        return
    import uvloop

    figures = uvloop.run(measure(args.sockets, args.top, detail=args.detail))
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{figures['sockets']:,} idle sockets, per socket:")
    print(f"  tracked objects       {figures['tracked_objects_per_socket']:.1f}")
    for name, per in figures["by_type_per_socket"].items():
        print(f"    {name:<28} {per:.2f}")
    print(f"  resident memory       {figures['rss_kib_per_socket']:.1f} KiB")
    print(
        f"  full collection       {figures['full_collection_ms_open']:.1f} ms with them open "
        f"({figures['full_collection_ms_empty']:.2f} ms without)"
    )
    print("after they close, per socket:")
    print(f"  cyclic garbage        {figures['cyclic_garbage_per_closed_socket']:.1f} objects")
    print(f"  memory not returned   {figures['rss_kib_kept_per_closed_socket']:.1f} KiB")


if __name__ == "__main__":
    main()
