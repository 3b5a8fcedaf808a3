"""Delivery between server processes: `gkchat serve --workers N` on PostgreSQL and Redis.

For N = 2 and then 4 workers, starts a real server on a fresh PostgreSQL database with the
Redis hub, registers friend pairs and has every sender pipeline messages over its socket (the
pieces of bench/ws_throughput.py): first saturated (a window of unacknowledged sends per
sender: throughput, latencies that are mostly queueing), then light (a few pairs sending one
message at a time: the latency of the path itself). The load generator is this process; the
server's workers are others. Each socket's worker is looked up in /proc (which process owns
the server end of the TCP connection), so that deliveries between two workers are told apart
from deliveries inside one. Prints acked messages per second, ack and delivery latency
percentiles and the server's CPU per 1,000 messages, and writes them to
bench/results/cluster-<time>.json.

    python bench/cluster.py [--workers 2 4] [--pairs 20] [--messages 200] [--window 20]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]
        [--hub-url redis://127.0.0.1:6379/0]

A benchmark, not a test: it asserts nothing about speed.
"""

import argparse
import asyncio
import json
import os
import platform
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import ClientConnection
from ws_throughput import cpu_seconds, make_pair, percentile, run_pair, start_server

from gkchat.db.engine import normalise_url

RESULTS = Path(__file__).resolve().parent / "results"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def process_tree(pid: int) -> list[int]:
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children(current))
    return tree


class SocketOwners:
    """Which server process holds the server end of a loopback TCP connection."""

    def __init__(self, server_pid: int, port: int) -> None:
        self.server_pid = server_pid
        self.port = port

    def owner(self, client_port: int) -> int | None:
        inode = self._inode(client_port)
        if inode is None:
            return None
        for pid in process_tree(self.server_pid):
            try:
                for fd in Path(f"/proc/{pid}/fd").iterdir():
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
            except OSError:
                continue
        return None

    def _inode(self, client_port: int) -> str | None:
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].split(":")[1], 16)
            remote_port = int(fields[2].split(":")[1], 16)
            if local_port == self.port and remote_port == client_port:
                return fields[9]
        return None


async def fresh_database(admin_url: str, name: str, *, drop_only: bool = False) -> str:
    admin = normalise_url(admin_url)
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if not drop_only:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


async def measure(workers: int, args: argparse.Namespace) -> dict[str, object]:
    name = f"gkchat_bench_{uuid.uuid4().hex[:8]}"
    database_url = await fresh_database(args.database_url, name)
    process, base, data = await start_server(
        database_url, workers=workers, hub_url=args.hub_url, pin=False
    )
    try:
        owners = SocketOwners(process.pid, int(base.rsplit(":", 1)[1]))
        async with httpx.AsyncClient(base_url=f"{base}/api/v1", timeout=60) as api:
            pairs = [await make_pair(api, i) for i in range(args.pairs)]
        load = await phase(process.pid, base, owners, pairs, args.messages, args.window)
        light = await phase(
            process.pid, base, owners, pairs[: args.light_pairs], args.light_messages, 1
        )
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(data, ignore_errors=True)
        await fresh_database(args.database_url, name, drop_only=True)
    return {
        "workers": workers,
        "hub": args.hub_url.split("://")[0],
        "saturated": load,
        "light": light,
    }


async def phase(
    server_pid: int,
    base: str,
    owners: SocketOwners,
    pairs: list[tuple[dict[str, str], dict[str, str]]],
    messages: int,
    window: int,
) -> dict[str, object]:
    """Every pair sends ``messages`` with ``window`` unacked; the figures of that run."""
    placement: list[tuple[int | None, int | None]] = [(None, None)] * len(pairs)

    def opened(index: int) -> Callable[[ClientConnection, ClientConnection], None]:
        def record(sender: ClientConnection, recipient: ClientConnection) -> None:
            placement[index] = (
                owners.owner(sender.local_address[1]),
                owners.owner(recipient.local_address[1]),
            )

        return record

    ws_url = base.replace("http", "ws") + "/api/v1/ws"
    acks: list[list[float]] = [[] for _ in pairs]
    deliveries: list[list[float]] = [[] for _ in pairs]
    server = process_tree(server_pid)
    cpu_before = sum(cpu_seconds(pid) for pid in server)
    started = time.perf_counter()
    await asyncio.gather(
        *(
            run_pair(ws_url, s, r, messages, window, acks[i], deliveries[i], opened(i))
            for i, (s, r) in enumerate(pairs)
        )
    )
    elapsed = time.perf_counter() - started
    cpu = sum(cpu_seconds(pid) for pid in server) - cpu_before
    # A socket whose worker was not found (None) counts in neither class.
    kinds = [
        (s != r, ds)
        for (s, r), ds in zip(placement, deliveries, strict=True)
        if s is not None and r is not None
    ]
    total = len(pairs) * messages
    return {
        "pairs": len(pairs),
        "pairs_across_workers": sum(1 for across, _ in kinds if across),
        "pairs_within_a_worker": sum(1 for across, _ in kinds if not across),
        "messages": total,
        "window": window,
        "seconds": round(elapsed, 2),
        "messages_per_second": round(total / elapsed),
        "server_cpu_s_per_1000_messages": round(cpu / total * 1000, 3),
        "ack_ms": ms([a for pair in acks for a in pair]),
        "delivery_ms": ms([d for pair in deliveries for d in pair]),
        "delivery_across_workers_ms": ms([d for across, ds in kinds if across for d in ds]),
        "delivery_within_a_worker_ms": ms([d for across, ds in kinds if not across for d in ds]),
    }


def ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None}
    return {f"p{p}": round(percentile(values, p) * 1000, 1) for p in (50, 99)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200, help="per pair")
    parser.add_argument("--window", type=int, default=20, help="unacked sends per sender")
    parser.add_argument("--light-pairs", type=int, default=8, help="pairs in the light run")
    parser.add_argument(
        "--light-messages", type=int, default=50, help="per pair, one at a time, light run"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("GKCHAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test"),
        help="a PostgreSQL server where a scratch database may be created",
    )
    parser.add_argument(
        "--hub-url",
        default=os.environ.get("GKCHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="the hub (memory:// only with one worker: a baseline)",
    )
    args = parser.parse_args()
    runs = []
    for workers in args.workers:
        result = await measure(workers, args)
        print(json.dumps(result, indent=2))
        runs.append(result)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = RESULTS / f"cluster-{stamp}.json"
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    target.write_text(json.dumps({"machine": machine, "runs": runs}, indent=2) + "\n")
    print(f"written to {target}")


if __name__ == "__main__":
    asyncio.run(main())
