"""soak: many connections and a steady message rate for a long time; nothing may leak.

One server, one database of friend pairs (one account per socket). Two cycles, each opening a
socket for every account, sending messages at a steady rate between the pairs over the
WebSocket, then closing every socket:

1. a warm-up cycle (a short burst), after which the server's resident memory (RSS) and open
   file descriptors are the **baseline**: the server has by then allocated what a full load
   needs, so a second cycle that ends above it leaks;
2. the soak itself: the same sockets for ``--duration`` seconds at ``--rate`` messages per
   second, cut into windows whose delivery p99 must stay level; RSS and descriptors are
   sampled after each window.

Then every socket closes and the server gets up to 30 s to let go of them: descriptors must
come back to the baseline (a few of slack for the database and the listener), and RSS may
grow only by a bounded amount (``rss_growth_mib``, which the CI test bounds generously: a
leak of 1 KiB per connection per cycle would show as ~10 MiB at 10,000 sockets).

Default: 10,000 sockets, 100 msg/s for 10 minutes (the issue's figure). ``--quick``: 2,000
sockets, 200 msg/s for 2 minutes. ``--tiny`` (the CI test): 300 sockets, 100 msg/s for 4 s.
"""

import argparse
import functools
import time
from typing import Any

from bench.messaging import MessageLoad
from bench.scenario import Context, Result, Scenario, Table
from bench.seed import seed_accounts_sync
from bench.server import Server
from bench.stats import fmt

PER_GENERATOR = 2500  # sockets per generator process (descriptor limits)
SETTLE_S = 30.0
FD_SLACK = 8  # database connections and the like may come and go


def _settle(server: Server, target_fds: int | None) -> tuple[int, int, float]:
    """Wait until the server's descriptors are back to ``target_fds`` (None: until they hold
    still for a second), at most SETTLE_S; return its descriptors, RSS and the seconds it
    took."""
    t0 = time.monotonic()
    seen = [server.open_fds()]
    while time.monotonic() - t0 < SETTLE_S:
        if target_fds is not None and seen[-1] <= target_fds + FD_SLACK:
            break
        if target_fds is None and len(seen) >= 5 and len(set(seen[-5:])) == 1:
            break
        time.sleep(0.25)
        seen.append(server.open_fds())
    time.sleep(0.5)
    return server.open_fds(), server.rss_bytes(), round(time.monotonic() - t0, 1)


def soak_once(
    server: Server,
    accounts: list[dict[str, str]],
    *,
    rate: float,
    duration: float,
    windows: int,
) -> dict[str, Any]:
    generators = max(1, -(-len(accounts) // PER_GENERATOR))
    fds_start, rss_start = server.open_fds(), server.rss_bytes()

    # Cycle 1: warm up, then take the baseline.
    t0 = time.monotonic()
    with MessageLoad(server, accounts, generators=generators) as load:
        connect_s = time.monotonic() - t0
        warm = load.step(duration=min(2.0, duration), rate=rate, drain=30)
    fds0, rss0, _ = _settle(server, None)
    frozen0 = (server.diagnostics(gc_frozen=True) or {}).get("gc_frozen")

    # Cycle 2: the soak. Its steps are numbered on from the warm-up's, so that no client_id
    # repeats one of cycle 1 (a repeat would be an idempotent retry, acked but not delivered).
    samples: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    with MessageLoad(server, accounts, generators=generators, _step=1000) as load:
        open_fds, open_rss = server.open_fds(), server.rss_bytes()
        for _ in range(windows):
            step = load.step(duration=duration / windows, rate=rate, drain=30)
            steps.append(step)
            samples.append(
                {
                    "rss_mib": round(server.rss_bytes() / 2**20, 1),
                    "fds": server.open_fds(),
                    "delivery_p99_ms": step["delivery_ms"].get("p99"),
                    "ack_p99_ms": step["ack_ms"].get("p99"),
                    "undelivered": step["undelivered"],
                    "errors": step["errors"],
                    "loop_stall_max_ms": step.get("loop_stall_max_ms"),
                    "gc_pause_max_ms": step.get("gc_pause_max_ms"),
                    "gc_pause_max_ms_by_generation": step.get("gc_pause_max_ms_by_generation"),
                    "gc_collections": step.get("gc_collections"),
                    "gc_slow": step.get("gc_slow"),
                    "stall_stacks": step.get("stall_stacks"),
                }
            )
    fds1, rss1, settle_s = _settle(server, fds0)
    diagnostics = server.diagnostics(gc_frozen=True) or {}

    p99s = [s["delivery_p99_ms"] for s in samples if s["delivery_p99_ms"] is not None]
    ordered = sorted(p99s)
    median_p99 = ordered[len(ordered) // 2] if ordered else None
    return {
        "connections": len(accounts),
        "generators": generators,
        "connect_s": round(connect_s, 1),
        "offered_per_s": rate,
        "duration_s": duration,
        "sent": sum(s["sent"] for s in steps),
        "acked": sum(s["acked"] for s in steps),
        "delivered": sum(s["delivered"] for s in steps),
        "errors": sum(s["errors"] for s in steps) + warm["errors"],
        "undelivered": sum(s["undelivered"] for s in steps),
        "windows": samples,
        "delivery_p99_ms_median": median_p99,
        "delivery_p99_ms_worst": max(p99s) if p99s else None,
        # The worst window's p99 over the median window's: 1 is perfectly level.
        "p99_drift": round(max(p99s) / median_p99, 2) if p99s and median_p99 else None,
        "rss_start_mib": round(rss_start / 2**20, 1),
        "rss_baseline_mib": round(rss0 / 2**20, 1),
        "rss_open_mib": round(open_rss / 2**20, 1),
        "rss_peak_mib": max([s["rss_mib"] for s in samples] or [0.0]),
        "rss_end_mib": round(rss1 / 2**20, 1),
        "rss_growth_mib": round((rss1 - rss0) / 2**20, 1),
        "fds_start": fds_start,
        "fds_baseline": fds0,
        "fds_open": open_fds,
        "fds_end": fds1,
        "fds_growth": fds1 - fds0,
        "settle_s": settle_s,
        "server_connections_end": diagnostics.get("connections"),
        # Objects frozen out of collection (GKCHAT_GC_FREEZE): back near the baseline once the
        # sockets close, or frozen garbage is piling up.
        "gc_frozen_baseline": frozen0,
        "gc_frozen_end": diagnostics.get("gc_frozen"),
        "server_cpu_ms_per_message": round(
            sum(s["server_cpu_s"] for s in steps) / max(1, sum(s["acked"] for s in steps)) * 1000,
            4,
        ),
        "loop_stall_max_ms": max((s.get("loop_stall_max_ms") or 0) for s in steps),
        "gc_pause_max_ms": max((s.get("gc_pause_max_ms") or 0) for s in steps),
    }


def run(args: argparse.Namespace, ctx: Context) -> Result:
    connections = getattr(args, "connections", None) or ctx.pick(10_000, 2_000, 300)
    connections += connections % 2  # pairs
    rate = getattr(args, "rate", None) or ctx.pick(100.0, 200.0, 100.0)
    duration = getattr(args, "duration", None) or ctx.pick(600.0, 120.0, 4.0)
    windows = getattr(args, "windows", None) or ctx.pick(10, 6, 2)
    seed = functools.partial(seed_accounts_sync, count=connections, pairs=True)
    runs = []
    for _ in range(ctx.repeats):
        with ctx.server(prepare=seed) as (server, accounts):
            runs.append(soak_once(server, accounts, rate=rate, duration=duration, windows=windows))
    return {
        "config": {
            "connections": connections,
            "rate": rate,
            "duration_s": duration,
            "windows": windows,
        },
        "runs": runs,
    }


def _cells(m: dict[str, Any], *keys: str) -> str:
    return ", ".join(fmt(m.get(key)) for key in keys)


def tables(result: Result) -> list[Table]:
    m = result["median"]
    summary = [
        ["sockets, msg/s, seconds", _cells(m, "connections", "offered_per_s", "duration_s")],
        ["messages sent, delivered, errors", _cells(m, "sent", "delivered", "errors")],
        [
            "delivery p99 ms: median window, worst window; drift",
            _cells(m, "delivery_p99_ms_median", "delivery_p99_ms_worst", "p99_drift"),
        ],
        [
            "RSS MiB: start, baseline, open, peak, end; growth",
            _cells(
                m,
                "rss_start_mib",
                "rss_baseline_mib",
                "rss_open_mib",
                "rss_peak_mib",
                "rss_end_mib",
                "rss_growth_mib",
            ),
        ],
        [
            "fds: start, baseline, open, end; growth",
            _cells(m, "fds_start", "fds_baseline", "fds_open", "fds_end", "fds_growth"),
        ],
        ["server CPU ms per message", fmt(m["server_cpu_ms_per_message"], 3)],
        [
            "objects frozen out of GC: baseline, end",
            _cells(m, "gc_frozen_baseline", "gc_frozen_end"),
        ],
        ["worst loop stall, GC pause ms", _cells(m, "loop_stall_max_ms", "gc_pause_max_ms")],
    ]
    run = result["runs"][0]
    windows = [
        [
            str(i + 1),
            fmt(w["delivery_p99_ms"]),
            fmt(w["ack_p99_ms"]),
            fmt(w["rss_mib"]),
            str(w["fds"]),
            str(w["undelivered"]),
            str(w["errors"]),
            f"{fmt(w.get('loop_stall_max_ms'))} / {fmt(w.get('gc_pause_max_ms'))}",
        ]
        for i, w in enumerate(run["windows"])
    ]
    return [
        ("Soak", ["figure", "value"], summary),
        (
            "Windows of the first run",
            [
                "window",
                "delivery p99 ms",
                "ack p99 ms",
                "RSS MiB",
                "fds",
                "undelivered",
                "errors",
                "loop stall / GC pause max ms",
            ],
            windows,
        ),
    ]


def headline(result: Result) -> dict[str, str]:
    m = result["median"]
    return {
        "sockets": fmt(m["connections"]),
        "RSS growth MiB": fmt(m["rss_growth_mib"]),
        "fd growth": str(m["fds_growth"]),
        "p99 drift": fmt(m["p99_drift"], 2),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connections", type=int, help="sockets (default 10000)")
    parser.add_argument("--rate", type=float, help="messages per second (default 100)")
    parser.add_argument("--duration", type=float, help="seconds of steady load (default 600)")
    parser.add_argument("--windows", type=int, help="windows the p99 is taken over (default 10)")


SCENARIO = Scenario(
    name="soak",
    summary="10,000 sockets and a steady rate for 10 minutes: no leak, a level p99",
    run=run,
    tables=tables,
    add_arguments=add_arguments,
    headline=headline,
    in_all=False,
)
