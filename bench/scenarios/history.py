"""history: one long conversation in a big database.

A conversation of 100,000 messages inside a database of 1,000,000 (the rest spread over 200
other pairs), and 10,000 events in one user's stream, written straight into the tables (see
``bench.seed``) once and cached by size: an SQLite file under the cache folder, or a
PostgreSQL template database ``gkchat_bench_cache_<key>``; ``python -m bench clean`` removes
them. Each run gets a fresh copy. Measures the latest page, pages deep in the history (reached
by following ``next_before`` cursors, as a client scrolling back would), the scroll-back rate
itself, and a ``/sync`` catch-up of the 10,000 events (time to drain).
"""

import argparse
import asyncio
import hashlib
import os
import time
from pathlib import Path
from typing import Any

from bench.generator import Busy, Channel, HTTPConnection, run_generators
from bench.plots import bar_plot
from bench.scenario import Context, Result, Scenario, Table
from bench.seed import cache_dir, history_cache_key, read_meta, seed_history, write_meta
from bench.server import Meter, ScratchDatabase, run_admin
from bench.stats import fmt, latency_summary

PAGE = 50
WALK_PAGE = 200


def prepared(ctx: Context, sizes: dict[str, int]) -> tuple[str | Path, dict[str, Any]]:
    """The cached seeded database for these sizes (made now if missing) and its metadata."""
    key = history_cache_key(
        ctx.database, sizes["total"], sizes["conversation"], sizes["sync_events"]
    )
    meta_path = cache_dir() / f"history_{key}.json"
    meta = read_meta(meta_path)
    if ctx.database == "sqlite":
        path = cache_dir() / f"history_{key}.db"
        if meta is None or not path.exists():
            print(f"   seeding {sizes['total']:,} messages into {path} (cached for next time)")
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.unlink(missing_ok=True)
            meta = asyncio.run(seed_history(f"sqlite:///{partial}", **sizes))
            for suffix in ("-wal", "-shm"):
                Path(f"{partial}{suffix}").unlink(missing_ok=True)
            partial.replace(path)
            write_meta(meta_path, meta)
        return path, meta
    # The cache folder is part of the name: it is what `python -m bench clean` drops.
    name = "gkchat_bench_cache_" + hashlib.sha256(f"{key}{cache_dir()}".encode()).hexdigest()[:16]
    scratch = ScratchDatabase("postgres", admin_url=ctx.admin_url)
    scratch.drop()  # only its temporary folder: nothing was created yet
    exists = run_admin(scratch.admin_url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'")[0]
    if meta is None or not exists:
        print(f"   seeding {sizes['total']:,} messages into database {name} (cached)")
        scratch.name = name
        run_admin(scratch.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        scratch.create()
        try:
            meta = asyncio.run(seed_history(scratch.url, **sizes))
        except BaseException:
            scratch.drop()
            raise
        meta["database"] = name
        write_meta(meta_path, meta)
    return name, meta


async def history_job(spec: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Time the latest page, the scroll-back walk, deep pages and the /sync catch-up."""
    alice = HTTPConnection(spec["host"], spec["port"], spec["alice_token"])
    bob = HTTPConnection(spec["host"], spec["port"], spec["bob_token"])
    base = f"/api/v1/conversations/{spec['bob_id']}/messages"
    samples = spec["samples"]

    async def timed(connection: HTTPConnection, path: str) -> tuple[float, Any]:
        started = time.monotonic()
        status, body = await connection.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body}")
        return time.monotonic() - started, body

    with Busy() as busy:
        latest = [(await timed(alice, f"{base}?limit={PAGE}"))[0] for _ in range(samples)]
        cursors: dict[int, str] = {}
        seen, pages, before = 0, 0, None
        walk_started = time.monotonic()
        while len(cursors) < len(spec["depths"]):
            query = f"?limit={WALK_PAGE}" + (f"&before={before}" if before else "")
            _, body = await timed(alice, base + query)
            seen += len(body["messages"])
            pages += 1
            before = body["next_before"]
            if seen in spec["depths"]:
                cursors[seen] = before
            if before is None:
                break
        walk_seconds = time.monotonic() - walk_started
        deep = {}
        for depth, cursor in cursors.items():
            path = f"{base}?limit={PAGE}&before={cursor}"
            deep[str(depth)] = latency_summary(
                [(await timed(alice, path))[0] for _ in range(samples)]
            )
        drains = []
        events = requests = 0
        for _ in range(spec["sync_repeats"]):
            since, events, requests = spec["sync_since"], 0, 0
            started = time.monotonic()
            while True:
                _, body = await timed(bob, f"/api/v1/sync?since={since}")
                events += len(body["events"])
                requests += 1
                since = body["cursor"]
                if not body["has_more"]:
                    break
            drains.append(time.monotonic() - started)
    await alice.close()
    await bob.close()
    drain = sorted(drains)[len(drains) // 2]
    return {
        "latest_page_ms": latency_summary(latest),
        "pages_ms": deep,
        "scroll_back": {
            "messages": seen,
            "pages": pages,
            "seconds": round(walk_seconds, 3),
            "messages_per_s": round(seen / walk_seconds) if walk_seconds else None,
        },
        "sync": {
            "events": events,
            "requests": requests,
            "drain_s": round(drain, 3),
            "events_per_s": round(events / drain) if drain else None,
        },
        "requests": samples * (1 + len(deep)) + pages + requests * len(drains),
        "generator_cpu": round(busy.share, 3),
        "generator_saturated": busy.share > 0.85,
    }


def run(args: argparse.Namespace, ctx: Context) -> Result:
    sizes = {
        "total": getattr(args, "total", None) or ctx.pick(1_000_000, 100_000, 2_000),
        "conversation": getattr(args, "conversation", None) or ctx.pick(100_000, 20_000, 1_000),
        "sync_events": getattr(args, "sync_events", None) or ctx.pick(10_000, 5_000, 500),
    }
    wanted = [1000, 10_000, 50_000, 99_000] if ctx.mode != "tiny" else [200, 600, 800]
    depths = [d for d in wanted if d < sizes["conversation"]]
    if ctx.mode == "quick":
        depths = [1000, 10_000, sizes["conversation"] - 1000]
    config = {
        **sizes,
        "depths": depths,
        "page_size": PAGE,
        "samples": ctx.pick(50, 20, 5),
        "sync_repeats": ctx.pick(3, 2, 1),
    }
    started = time.monotonic()
    template, meta = prepared(ctx, sizes)
    config["prepare_s"] = round(time.monotonic() - started, 1)
    runs = []
    for _ in range(ctx.repeats):
        with ctx.server(template=template) as (server, _):
            spec = {
                "host": "127.0.0.1",
                "port": server.port,
                "alice_token": meta["alice"]["token"],
                "bob_token": meta["bob"]["token"],
                "bob_id": meta["bob"]["id"],
                "depths": depths,
                "samples": config["samples"],
                "sync_since": meta["sync_since"],
                "sync_repeats": config["sync_repeats"],
            }
            with Meter(server) as meter:
                (measured,) = run_generators(history_job, [spec])
            measured.update(meter.result(measured["requests"]))
            runs.append(measured)
    return {"config": config, "runs": runs}


def tables(result: Result) -> list[Table]:
    m, c = result["median"], result["config"]
    rows = [["latest", *_cells(m["latest_page_ms"])]]
    rows += [[f"{int(d):,} deep", *_cells(s)] for d, s in m["pages_ms"].items()]
    sync, walk = m["sync"], m["scroll_back"]
    other = [
        [
            f"/sync catch-up of {fmt(sync['events'])} events",
            f"{fmt(sync['drain_s'], 3)} s",
            f"{fmt(sync['events_per_s'])} events/s in {fmt(sync['requests'])} requests",
        ],
        [
            f"scroll back {fmt(walk['messages'])} messages",
            f"{fmt(walk['seconds'], 2)} s",
            f"{fmt(walk['messages_per_s'])} messages/s, {WALK_PAGE} per page",
        ],
        [
            "server during the run",
            f"{fmt(m['server_cpu_ms_per_op'], 2)} ms CPU per request",
            f"loop stall max {fmt(m.get('loop_stall_max_ms'))} ms, "
            f"GC pause max {fmt(m.get('gc_pause_max_ms'))} ms",
        ],
    ]
    title = (
        f"Pages of {PAGE} in a {c['conversation']:,}-message conversation, database of "
        f"{c['total']:,} messages; median of {len(result['runs'])} run(s), "
        f"{c['samples']} samples each"
    )
    return [
        (title, ["page", "p50 ms", "p99 ms", "max ms"], rows),
        ("Catch-up and scroll-back", ["", "time", ""], other),
    ]


def _cells(summary: dict[str, Any]) -> list[str]:
    return [fmt(summary.get(k), 2) for k in ("p50", "p99", "max")]


def headline(result: Result) -> dict[str, str]:
    m = result["median"]
    deepest = list(m["pages_ms"])[-1] if m["pages_ms"] else None
    return {
        "latest page p99 ms": fmt(m["latest_page_ms"]["p99"], 2),
        f"page {int(deepest):,} deep p99 ms" if deepest else "deep page": fmt(
            m["pages_ms"][deepest]["p99"] if deepest else None, 2
        ),
        "sync drain s": f"{fmt(m['sync']['drain_s'], 2)} ({fmt(m['sync']['events'])} events)",
    }


def plot(result: Result, path: Any) -> bool:
    m = result["median"]
    labels = ["latest", *(f"{int(d):,}" for d in m["pages_ms"])]
    summaries = [m["latest_page_ms"], *m["pages_ms"].values()]
    return bar_plot(
        labels,
        {p: [s[p] for s in summaries] for p in ("p50", "p99")},
        path,
        f"History page latency by depth ({result['database']})",
        "latency (ms)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--total", type=int, help="messages in the database (1,000,000)")
    parser.add_argument("--conversation", type=int, help="messages in the conversation (100,000)")
    parser.add_argument("--sync-events", type=int, help="events to catch up on (10,000)")


SCENARIO = Scenario(
    name="history",
    summary="latest and deep history pages in a big database; /sync catch-up",
    run=run,
    tables=tables,
    add_arguments=add_arguments,
    headline=headline,
    plot=plot,
)
