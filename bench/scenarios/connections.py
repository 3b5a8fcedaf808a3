"""connections: many authenticated, idle WebSockets.

For each level (1,000 and 10,000 by default) a fresh server on a fresh database with that many
accounts (one session each); load generators (at most 2,500 sockets each, so that no process
nears its descriptor limit) open one socket per account, each authenticated and answered with
``ready``, then hold them idle. Reports the connect rate and the server's resident memory
growth per connection (goal: at most 32 KiB), and the worst event-loop stall and GC pause
while connecting and then while the sockets sit idle for one round of keep-alive pings.
"""

import argparse
import asyncio
import functools
import time
from typing import Any

from websockets.asyncio.client import ClientConnection

from bench.generator import (
    SATURATED,
    Busy,
    Channel,
    Generators,
    close_all,
    generator_share,
    open_socket,
    report,
)
from bench.scenario import Context, Result, Scenario, Table
from bench.seed import seed_accounts_sync
from bench.server import Server
from bench.stats import fmt, latency_summary

GOAL_KIB = 32.0
PER_GENERATOR = 2500
IDLE_HOLD_S = 21.0  # one round of the server's keep-alive pings (every 20 s)
WARMUP = 10


async def hold_job(spec: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Warm up, then open every socket at once (bounded concurrency), hold, close."""
    tokens: list[str] = spec["tokens"]
    ws_url = spec["ws_url"]
    warm = await asyncio.gather(*(open_socket(ws_url, t) for t in tokens[:WARMUP]))
    await close_all(warm)
    await report(channel, {"warm": True})
    limit = asyncio.Semaphore(spec["concurrency"])
    latencies: list[float] = []

    async def one(token: str) -> ClientConnection:
        async with limit:
            t = time.monotonic()
            ws = await open_socket(ws_url, token)
            latencies.append(time.monotonic() - t)
            return ws

    with Busy() as busy:
        t0 = time.monotonic()
        sockets = await asyncio.gather(*(one(t) for t in tokens))
        elapsed = time.monotonic() - t0
    await report(
        channel,
        {
            "connected": len(sockets),
            "seconds": elapsed,
            "latencies": latencies,
            "generator_cpu": busy.share,
        },
    )
    await close_all(sockets)
    return {}


def measure(
    server: Server, accounts: list[dict[str, str]], concurrency: int, hold: float
) -> dict[str, Any]:
    count = len(accounts)
    shares = max(1, -(-count // PER_GENERATOR))
    specs = [
        {
            "tokens": [a["token"] for a in accounts[g::shares]],
            "ws_url": server.ws_url,
            "concurrency": max(1, concurrency // shares),
        }
        for g in range(shares)
    ]
    group = Generators(hold_job, specs)
    try:
        group.recv_all()
        time.sleep(0.5)
        rss0, fds0 = server.rss_bytes(), server.open_fds()
        server.reset_diagnostics()
        cpu0 = server.cpu_seconds()
        group.send_all(None)
        parts = group.recv_all()
        time.sleep(1.0)  # let the server settle (presence, last_seen) before reading memory
        rss1, fds1 = server.rss_bytes(), server.open_fds()
        cpu = server.cpu_seconds() - cpu0
        diagnostics = server.diagnostics() or {}
        stalls = server.stalls()
        # The connect storm keeps the loop saturated, so its stalls are mostly queueing; while
        # the sockets sit idle (pings and session checks only), any stall is a real pause.
        server.reset_diagnostics()
        time.sleep(hold)
        idle = server.stalls()
        group.send_all(None)
        group.recv_all()
    finally:
        group.close()
    connected = sum(p["connected"] for p in parts)
    seconds = max(p["seconds"] for p in parts)
    busiest = generator_share([p["generator_cpu"] for p in parts])
    return {
        "connections": connected,
        "generators": shares,
        "connect_per_s": round(connected / seconds, 1) if seconds else None,
        "connect_ms": latency_summary([x for p in parts for x in p["latencies"]]),
        "rss_before_mib": round(rss0 / 2**20, 1),
        "rss_after_mib": round(rss1 / 2**20, 1),
        "rss_kib_per_connection": round((rss1 - rss0) / 1024 / connected, 2),
        "server_fds_per_connection": round((fds1 - fds0) / connected, 2),
        "server_reported_connections": diagnostics.get("connections"),
        "server_cpu_ms_per_connect": round(cpu / connected * 1000, 3),
        "generator_cpu": round(busiest, 3),
        "generator_saturated": busiest > SATURATED,
        **stalls,
        "idle_seconds": hold,
        "idle_loop_stall_max_ms": idle.get("loop_stall_max_ms"),
        "idle_gc_pause_max_ms": idle.get("gc_pause_max_ms"),
    }


def run(args: argparse.Namespace, ctx: Context) -> Result:
    levels = (
        [int(x) for x in args.levels.split(",")]
        if getattr(args, "levels", None)
        else ctx.pick([1000, 10000], [200, 1000], [20])
    )
    concurrency = getattr(args, "concurrency", None) or 100
    hold: float = ctx.pick(IDLE_HOLD_S, 3.0, 0.5)
    runs = []
    for _ in range(ctx.repeats):
        run_result: dict[str, Any] = {}
        for level in levels:
            seed = functools.partial(seed_accounts_sync, count=level)
            with ctx.server(prepare=seed) as (server, accounts):
                run_result[str(level)] = measure(server, accounts, concurrency, hold)
        runs.append(run_result)
    return {
        "config": {"levels": levels, "concurrency": concurrency, "goal_kib": GOAL_KIB},
        "runs": runs,
    }


def tables(result: Result) -> list[Table]:
    headers = [
        "idle sockets",
        "connects/s",
        "connect p50 / p99 ms",
        "RSS before → after MiB",
        "KiB per connection",
        "server fds per conn",
        "server CPU ms per connect",
        "connecting: loop stall / GC pause max ms",
        "idle: loop stall / GC pause max ms",
        "generator CPU",
    ]
    rows = []
    for level, m in result["median"].items():
        kib = m["rss_kib_per_connection"]
        rows.append(
            [
                fmt(int(level)),
                fmt(m["connect_per_s"], 0),
                f"{fmt(m['connect_ms']['p50'])} / {fmt(m['connect_ms']['p99'])}",
                f"{fmt(m['rss_before_mib'])} → {fmt(m['rss_after_mib'])}",
                fmt(kib) + (" (goal ≤ 32)" if kib is not None and kib > GOAL_KIB else ""),
                fmt(m["server_fds_per_connection"], 2),
                fmt(m["server_cpu_ms_per_connect"], 3),
                f"{fmt(m.get('loop_stall_max_ms'))} / {fmt(m.get('gc_pause_max_ms'))}",
                f"{fmt(m.get('idle_loop_stall_max_ms'))} / {fmt(m.get('idle_gc_pause_max_ms'))}",
                fmt(m["generator_cpu"], 2),
            ]
        )
    title = f"Idle authenticated WebSockets, median of {len(result['runs'])} run(s)"
    return [(title, headers, rows)]


def headline(result: Result) -> dict[str, str]:
    median = result["median"]
    top = max(median, key=int)
    return {
        "sockets": fmt(int(top)),
        "KiB per connection": fmt(median[top]["rss_kib_per_connection"]),
        "connects/s": fmt(median[top]["connect_per_s"], 0),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--levels", help="socket counts, comma-separated (default 1000,10000)")
    parser.add_argument("--concurrency", type=int, help="connects in flight (default 100)")


SCENARIO = Scenario(
    name="connections",
    summary="idle authenticated WebSockets: memory per connection and connect rate",
    run=run,
    tables=tables,
    add_arguments=add_arguments,
    headline=headline,
)
