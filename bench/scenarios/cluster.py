"""cluster: messages between worker processes, ``gkchat serve --workers N`` on PostgreSQL and
the Redis hub.

For each worker count (1 on the in-memory hub as the baseline, then 2 and 4 on Redis) a fresh
server on its own scratch database carries friend pairs over WebSocket: a closed loop (every
sender keeps a window of unacknowledged messages: the aggregate maximum) and a light open-loop
step (latency of the path itself rather than queueing). The kernel hands each new socket to
one of the workers, so with N workers about 1 - 1/N of the pairs talk across processes;
``bench/cluster.py`` tells the two kinds apart through ``/proc``. The server is not pinned:
its workers share both cores with the load generator, and CPU is summed over the workers.
Loop stalls and GC pauses come from whichever worker answered ``/diagnostics``.
"""

import argparse
import os
import uuid
from typing import Any

from bench.messaging import MessageLoad
from bench.scenario import Context, Result, Scenario, Table
from bench.seed import seed_accounts_sync
from bench.stats import fmt

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", type=int, help="friend pairs (default 50; quick 10)")
    parser.add_argument(
        "--workers", help="worker counts, comma-separated (default 1,2,4; 1 is the memory hub)"
    )
    parser.add_argument("--window", type=int, default=20, help="unacknowledged sends per sender")
    parser.add_argument("--light-rate", type=float, help="messages/s of the light step (200)")
    parser.add_argument("--step-seconds", type=float, help="length of each step (default 6)")
    parser.add_argument(
        "--redis-url",
        help="the Redis hub (default $GKCHAT_BENCH_REDIS_URL, $GKCHAT_TEST_REDIS_URL or "
        f"{DEFAULT_REDIS_URL}); keys and channels get a prefix of their own",
    )


def plan(args: argparse.Namespace, ctx: Context) -> dict[str, Any]:
    listed = getattr(args, "workers", None)
    workers = [int(w) for w in listed.split(",")] if listed else ctx.pick([1, 2, 4], [1, 2], [2])
    return {
        "pairs": getattr(args, "pairs", None) or ctx.pick(50, 10, 2),
        "workers": workers,
        "window": getattr(args, "window", 20),
        "light_rate": getattr(args, "light_rate", None) or ctx.pick(200.0, 100.0, 20.0),
        "step_seconds": getattr(args, "step_seconds", None) or ctx.pick(6.0, 2.0, 0.5),
        "warmup_seconds": ctx.pick(2.0, 0.5, 0.2),
    }


def redis_url(args: argparse.Namespace) -> str:
    base = (
        getattr(args, "redis_url", None)
        or os.environ.get("GKCHAT_BENCH_REDIS_URL")
        or os.environ.get("GKCHAT_TEST_REDIS_URL")
        or DEFAULT_REDIS_URL
    )
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}prefix=gkchat-bench-{uuid.uuid4().hex[:8]}"


def hub_env(workers: int, hub_url: str) -> dict[str, str]:
    """One worker runs on the in-memory hub (the baseline); more share Redis."""
    if workers == 1:
        return {"GKCHAT_WORKERS": "1", "GKCHAT_HUB_URL": "memory://"}
    return {"GKCHAT_WORKERS": str(workers), "GKCHAT_HUB_URL": hub_url}


def one_level(ctx: Context, config: dict[str, Any], workers: int, hub_url: str) -> dict[str, Any]:
    seconds = config["step_seconds"]
    with (
        ctx.server(
            env=hub_env(workers, hub_url),
            pin=False,
            prepare=lambda url: seed_accounts_sync(url, 2 * config["pairs"], pairs=True),
        ) as (server, accounts),
        MessageLoad(server, accounts, transport="ws") as load,
    ):
        load.step(rate=config["light_rate"], duration=config["warmup_seconds"], drain=5)
        light = load.step(rate=config["light_rate"], duration=seconds, drain=max(5.0, seconds))
        saturated = load.step(window=config["window"], duration=seconds, drain=30)
    return {
        "workers": workers,
        "hub": "memory" if workers == 1 else "redis",
        "light": light,
        "closed_loop": saturated,
    }


def run(args: argparse.Namespace, ctx: Context) -> Result:
    config = plan(args, ctx)
    hub_url = redis_url(args)
    runs = []
    for _ in range(ctx.repeats):
        runs.append({str(w): one_level(ctx, config, w, hub_url) for w in config["workers"]})
    return {"config": config, "runs": runs}


def tables(result: Result) -> list[Table]:
    median = result["median"]
    config = result["config"]
    headers = [
        "workers (hub)",
        "closed loop msg/s",
        "closed-loop delivery p50 / p99 ms",
        f"delivery p50 / p99 ms at {config['light_rate']:g}/s",
        "server CPU ms/msg (all workers)",
        "PostgreSQL CPU ms/msg",
        "undelivered",
        "loop stall / GC pause max ms (one worker)",
    ]
    rows = []
    for workers in config["workers"]:
        level = median[str(workers)]
        closed, light = level["closed_loop"], level["light"]
        rows.append(
            [
                f"{workers} ({level['hub']})",
                fmt(closed["achieved_per_s"], 0),
                _pair(closed["delivery_ms"]),
                _pair(light["delivery_ms"]),
                fmt(closed["server_cpu_ms_per_op"], 3),
                fmt(closed.get("database_cpu_ms_per_op"), 3),
                fmt(closed["undelivered"] + light["undelivered"]),
                f"{fmt(closed.get('loop_stall_max_ms'))} / {fmt(closed.get('gc_pause_max_ms'))}",
            ]
        )
    title = (
        f"Messages between worker processes: {config['pairs']} pairs, window "
        f"{config['window']}, median of {len(result['runs'])} run(s)"
    )
    return [(title, headers, rows)]


def _pair(summary: dict[str, Any]) -> str:
    return " / ".join(fmt(summary.get(k)) for k in ("p50", "p99"))


def headline(result: Result) -> dict[str, str]:
    median = result["median"]
    cells = {}
    for workers in result["config"]["workers"]:
        level = median[str(workers)]
        cells[f"{workers} worker(s): closed loop msg/s"] = fmt(
            level["closed_loop"]["achieved_per_s"], 0
        )
        cells[f"{workers} worker(s): light delivery p99 ms"] = fmt(
            level["light"]["delivery_ms"]["p99"]
        )
    return cells


SCENARIO = Scenario(
    name="cluster",
    summary="messages between worker processes on PostgreSQL and Redis (1, 2 and 4 workers)",
    run=run,
    tables=tables,
    add_arguments=add_arguments,
    headline=headline,
    databases=("postgres",),
)
