"""ws-messages: friend pairs exchanging messages over WebSocket.

An open-loop rate ladder (messages due on a fixed timetable, latency from the due time), then
a closed-loop maximum (every sender keeps a window of unacknowledged messages). Durable-ack
latency (send -> message.ack) and delivery latency (send -> the recipient's
message.created), the highest offered rate whose delivery p99 stays under 50 ms, and messages
per server CPU-second.
"""

import argparse
from typing import Any

from bench.messaging import MessageLoad
from bench.plots import latency_ladder_plot
from bench.scenario import Context, Result, Scenario, Table
from bench.seed import seed_accounts_sync
from bench.stats import fmt

GOAL_P99_MS = 50.0
# A step this bad means the server is past saturation: higher rates are not tried.
OVERLOAD_P99_MS = 2000.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", type=int, help="friend pairs (default 50; quick 10)")
    parser.add_argument(
        "--rates", help="offered messages/s, comma-separated (default 500,1000,2000,5000,10000)"
    )
    parser.add_argument("--step-seconds", type=float, help="length of each step (default 6)")
    parser.add_argument(
        "--window", type=int, default=20, help="closed loop: unacknowledged sends per sender"
    )
    parser.add_argument("--generators", type=int, default=1, help="load generator processes")


def plan(args: argparse.Namespace, ctx: Context) -> dict[str, Any]:
    rates = (
        [float(r) for r in args.rates.split(",")]
        if getattr(args, "rates", None)
        else ctx.pick([500, 1000, 2000, 5000, 10000], [250, 500, 1000, 2000], [40, 80])
    )
    return {
        "pairs": getattr(args, "pairs", None) or ctx.pick(50, 10, 2),
        "rates": rates,
        "step_seconds": getattr(args, "step_seconds", None) or ctx.pick(6.0, 2.0, 0.5),
        "window": getattr(args, "window", 20),
        "generators": getattr(args, "generators", 1),
        "warmup_seconds": ctx.pick(2.0, 0.5, 0.2),
        "goal_p99_ms": GOAL_P99_MS,
    }


def ladder(load: MessageLoad, config: dict[str, Any]) -> dict[str, Any]:
    """Warm up, climb the ladder, then find the closed-loop maximum."""
    seconds = config["step_seconds"]
    load.step(rate=config["rates"][0], duration=config["warmup_seconds"], drain=5)
    steps: dict[str, Any] = {}
    best = None
    for rate in config["rates"]:
        step = load.step(rate=rate, duration=seconds, drain=max(5.0, seconds))
        steps[f"{rate:g}"] = step
        p99 = step["delivery_ms"]["p99"]
        if step["undelivered"] == 0 and p99 is not None and p99 < config["goal_p99_ms"]:
            best = rate
        if step["undelivered"] > 0 or p99 is None or p99 > OVERLOAD_P99_MS:
            break
    settled = load.settle()  # a step past saturation leaves a backlog the server works off
    closed = load.step(window=config["window"], duration=seconds, drain=30)
    closed["settled_before_s"] = settled
    return {
        "ladder": steps,
        "closed_loop": closed,
        "max_rate_p99_under_goal": best,
        "max_messages_per_s": closed["achieved_per_s"],
        "messages_per_server_cpu_s": closed["ops_per_server_cpu_s"],
    }


def run(args: argparse.Namespace, ctx: Context) -> Result:
    config = plan(args, ctx)
    runs = []
    with (
        ctx.server(
            prepare=lambda url: seed_accounts_sync(url, 2 * config["pairs"], pairs=True)
        ) as (
            server,
            accounts,
        ),
        MessageLoad(server, accounts, transport="ws", generators=config["generators"]) as load,
    ):
        for _ in range(ctx.repeats):
            runs.append(ladder(load, config))
    return {"config": config, "runs": runs}


def ladder_tables(result: Result, what: str) -> list[Table]:
    median = result["median"]
    headers = [
        "offered/s",
        "achieved/s",
        "ack p50 / p99 / p99.9 ms",
        "delivery p50 / p99 / p99.9 ms",
        "undelivered in drain",
        "server CPU ms/msg",
        "PostgreSQL CPU ms/msg",
        "msgs per server CPU-s",
        "loop stall max ms",
        "GC pause max ms",
        "send lag max ms",
        "generator CPU",
    ]
    rows = []
    steps = [*median["ladder"].items(), ("closed", median["closed_loop"])]
    for label, step in steps:
        offered = (
            f"closed loop (window {result['config']['window']})" if label == "closed" else label
        )
        rows.append(
            [
                offered,
                fmt(step["achieved_per_s"], 0),
                _triple(step["ack_ms"]),
                _triple(step["delivery_ms"]),
                fmt(step["undelivered"]),
                fmt(step["server_cpu_ms_per_op"], 3),
                fmt(step.get("database_cpu_ms_per_op"), 3),
                fmt(step["ops_per_server_cpu_s"]),
                fmt(step.get("loop_stall_max_ms")),
                fmt(step.get("gc_pause_max_ms")),
                fmt(step["send_lag_max_ms"]) if label != "closed" else "–",
                fmt(step["generator_cpu"], 2)
                + (" (saturated)" if step["generator_saturated"] else ""),
            ]
        )
    title = f"{what}: {result['config']['pairs']} pairs, median of {len(result['runs'])} run(s)"
    return [(title, headers, rows)]


def _triple(summary: dict[str, Any]) -> str:
    return " / ".join(fmt(summary.get(k)) for k in ("p50", "p99", "p99.9"))


def headline(result: Result) -> dict[str, str]:
    median = result["median"]
    closed = median["closed_loop"]
    return {
        "highest rate with delivery p99 < 50 ms": fmt(median["max_rate_p99_under_goal"]),
        "closed-loop maximum msg/s": fmt(median["max_messages_per_s"], 0),
        "messages per server CPU-s": fmt(median["messages_per_server_cpu_s"]),
        "closed-loop delivery p99 ms": fmt(closed["delivery_ms"]["p99"]),
        "worst loop stall ms": fmt(closed.get("loop_stall_max_ms")),
    }


SCENARIO = Scenario(
    name="ws-messages",
    summary="messages over WebSocket: open-loop rate ladder and closed-loop maximum",
    run=run,
    tables=lambda result: ladder_tables(result, "Messages over WebSocket"),
    add_arguments=add_arguments,
    headline=headline,
    plot=lambda result, path: latency_ladder_plot(result, path, "Messages over WebSocket"),
)
