"""auth: registration and sign-in rates, and message delivery during a sign-in storm.

argon2id (19 MiB, 2 passes) runs on the server's worker threads, which share the server's
CPU with the event loop. Three phases: registrations as fast as ``--concurrency`` clients can
make them; sign-ins likewise; then a steady open-loop message load between friend pairs,
first alone (the baseline) and then while a sign-in storm runs. The goal: delivery p99 under
50 ms during the storm.
"""

import argparse
import asyncio
import time
import uuid
from typing import Any

from bench.generator import Busy, Channel, Generators, HTTPConnection, report, sleep_until
from bench.messaging import MessageLoad
from bench.plots import bar_plot
from bench.scenario import Context, Result, Scenario, Table
from bench.seed import PASSWORD, seed_accounts_sync
from bench.server import Meter, Server
from bench.stats import fmt, latency_summary

GOAL_P99_MS = 50.0


async def auth_job(spec: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Register or sign in as fast as ``concurrency`` keep-alive connections allow."""
    answer = await report(channel, {"ready": True})
    t0, deadline = answer["t0"], answer["t0"] + spec["duration"]
    latencies: list[float] = []
    failures = 0
    counter = 0
    logins: list[str] = spec.get("logins", [])

    async def worker(index: int) -> None:
        nonlocal failures, counter
        connection = HTTPConnection(spec["host"], spec["port"])
        await sleep_until(t0)
        try:
            while time.monotonic() < deadline:
                counter += 1
                if spec["mode"] == "register":
                    name = f"{spec['prefix']}{index}x{counter}"
                    path, body = (
                        "/api/v1/auth/register",
                        {
                            "username": name,
                            "email": f"{name}@bench.example",
                            "password": f"{PASSWORD} {name}",
                        },
                    )
                else:
                    login = logins[counter % len(logins)]
                    path, body = "/api/v1/auth/login", {"login": login, "password": PASSWORD}
                started = time.monotonic()
                status, _ = await connection.request("POST", path, body)
                if status in (200, 201):
                    latencies.append(time.monotonic() - started)
                else:
                    failures += 1
        finally:
            await connection.close()

    with Busy() as busy:
        await asyncio.gather(*(worker(i) for i in range(spec["concurrency"])))
    return {
        "ok": len(latencies),
        "failures": failures,
        "seconds": time.monotonic() - t0,
        "latencies": latencies,
        "generator_cpu": busy.share,
    }


def start_auth(
    server: Server, mode: str, concurrency: int, duration: float, logins: list[str]
) -> Generators:
    spec = {
        "host": "127.0.0.1",
        "port": server.port,
        "mode": mode,
        "concurrency": concurrency,
        "duration": duration,
        "logins": logins,
        "prefix": f"r{uuid.uuid4().hex[:6]}",
    }
    group = Generators(auth_job, [spec])
    group.recv_all()
    return group


def summarise(part: dict[str, Any], meter: Meter | None = None) -> dict[str, Any]:
    figures = {
        "ok": part["ok"],
        "failures": part["failures"],
        "per_s": round(part["ok"] / part["seconds"], 1) if part["seconds"] else None,
        "latency_ms": latency_summary(part["latencies"]),
        "generator_cpu": round(part["generator_cpu"], 3),
        "generator_saturated": part["generator_cpu"] > 0.85,
    }
    if meter is not None:
        figures.update(meter.result(part["ok"]))
    return figures


def auth_rate(
    server: Server, mode: str, concurrency: int, duration: float, logins: list[str]
) -> dict[str, Any]:
    group = start_auth(server, mode, concurrency, duration, logins)
    try:
        with Meter(server) as meter:
            group.send_all({"t0": time.monotonic() + 0.1})
            (part,) = group.results(duration + 120)
    finally:
        group.close()
    return summarise(part, meter)


def storm(
    server: Server, load: MessageLoad, config: dict[str, Any], logins: list[str]
) -> dict[str, Any]:
    seconds, rate = config["seconds"], config["message_rate"]
    load.step(rate=rate, duration=min(1.0, seconds), drain=5)  # warm-up
    baseline = load.step(rate=rate, duration=seconds, drain=10)
    group = start_auth(server, "login", config["storm_concurrency"], seconds + 0.2, logins)
    try:
        group.send_all({"t0": time.monotonic() + 0.1})
        during = load.step(rate=rate, duration=seconds, drain=10)
        (part,) = group.results(seconds + 120)
    finally:
        group.close()
    return {
        "baseline": baseline,
        "during_storm": during,
        "storm_logins": summarise(part),
        "storm_delivery_p99_ms": during["delivery_ms"]["p99"],
        "goal_met": during["undelivered"] == 0
        and during["delivery_ms"]["p99"] is not None
        and during["delivery_ms"]["p99"] < GOAL_P99_MS,
    }


def run(args: argparse.Namespace, ctx: Context) -> Result:
    config = {
        "seconds": getattr(args, "seconds", None) or ctx.pick(8.0, 3.0, 1.0),
        "concurrency": getattr(args, "concurrency", None) or ctx.pick(8, 8, 2),
        "storm_concurrency": getattr(args, "storm_concurrency", None) or ctx.pick(16, 16, 4),
        "message_rate": getattr(args, "message_rate", None) or ctx.pick(200.0, 100.0, 20.0),
        "pairs": ctx.pick(20, 10, 2),
        "login_accounts": ctx.pick(200, 50, 4),
        "goal_p99_ms": GOAL_P99_MS,
    }
    count = 2 * config["pairs"] + config["login_accounts"]
    runs = []
    with ctx.server(prepare=lambda url: seed_accounts_sync(url, count, pairs=True)) as (
        server,
        accounts,
    ):
        pairs, rest = accounts[: 2 * config["pairs"]], accounts[2 * config["pairs"] :]
        logins = [a["username"] for a in rest]
        with MessageLoad(server, pairs, transport="ws") as load:
            for _ in range(ctx.repeats):
                runs.append(
                    {
                        "register": auth_rate(
                            server, "register", config["concurrency"], config["seconds"], logins
                        ),
                        "login": auth_rate(
                            server, "login", config["concurrency"], config["seconds"], logins
                        ),
                        **storm(server, load, config, logins),
                    }
                )
    return {"config": config, "runs": runs}


def tables(result: Result) -> list[Table]:
    m = result["median"]
    c = result["config"]
    rate_rows = [
        [
            what,
            fmt(m[key]["per_s"]),
            f"{fmt(m[key]['latency_ms']['p50'])} / {fmt(m[key]['latency_ms']['p99'])}",
            fmt(m[key]["failures"]),
            fmt(m[key]["server_cpu_ms_per_op"]),
            fmt(m[key].get("loop_stall_max_ms")),
            fmt(m[key].get("gc_pause_max_ms")),
        ]
        for what, key in (("registration", "register"), ("sign-in", "login"))
    ]
    storm_rows = []
    for what, key in (("alone", "baseline"), ("during a sign-in storm", "during_storm")):
        step = m[key]
        storm_rows.append(
            [
                what,
                fmt(step["achieved_per_s"], 0),
                " / ".join(fmt(step["delivery_ms"][p]) for p in ("p50", "p99", "p99.9")),
                fmt(step["undelivered"]),
                fmt(m["storm_logins"]["per_s"]) if key == "during_storm" else "–",
                fmt(step.get("loop_stall_max_ms")),
                fmt(step.get("gc_pause_max_ms")),
            ]
        )
    runs = len(result["runs"])
    return [
        (
            f"Registration and sign-in ({c['concurrency']} clients), median of {runs} run(s)",
            [
                "",
                "per second",
                "p50 / p99 ms",
                "failures",
                "server CPU ms each",
                "loop stall max ms",
                "GC pause max ms",
            ],
            rate_rows,
        ),
        (
            f"Messages at {c['message_rate']:g}/s offered, alone and while "
            f"{c['storm_concurrency']} clients sign in (goal: delivery p99 < 50 ms)",
            [
                "",
                "messages/s",
                "delivery p50 / p99 / p99.9 ms",
                "undelivered in drain",
                "sign-ins/s",
                "loop stall max ms",
                "GC pause max ms",
            ],
            storm_rows,
        ),
    ]


def headline(result: Result) -> dict[str, str]:
    m = result["median"]
    return {
        "registrations/s": fmt(m["register"]["per_s"]),
        "sign-ins/s": fmt(m["login"]["per_s"]),
        "delivery p99 during storm ms": fmt(m["storm_delivery_p99_ms"]),
        "goal met": fmt(m["goal_met"]),
    }


def plot(result: Result, path: Any) -> bool:
    m = result["median"]
    labels = ["p50", "p99", "p99.9"]
    return bar_plot(
        labels,
        {
            "alone": [m["baseline"]["delivery_ms"][p] for p in labels],
            "during sign-in storm": [m["during_storm"]["delivery_ms"][p] for p in labels],
        },
        path,
        f"Delivery latency at {result['config']['message_rate']:g} msg/s ({result['database']})",
        "delivery latency (ms)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, help="length of each phase (default 8)")
    parser.add_argument("--concurrency", type=int, help="clients registering/signing in (8)")
    parser.add_argument("--storm-concurrency", type=int, help="clients in the storm (16)")
    parser.add_argument("--message-rate", type=float, help="messages/s during the storm (200)")


SCENARIO = Scenario(
    name="auth",
    summary="registration and sign-in rates; delivery p99 during a sign-in storm",
    run=run,
    tables=tables,
    add_arguments=add_arguments,
    headline=headline,
    plot=plot,
)
