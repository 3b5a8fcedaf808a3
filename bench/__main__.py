"""``python -m bench <scenario> [options]``: GK-Chat's benchmark suite.

python -m bench all --quick                  a smoke run of every scenario (SQLite)
python -m bench soak                         10,000 sockets for 10 minutes: leaks, p99 drift
python -m bench ws-messages --database both  one scenario on SQLite, then on PostgreSQL
python -m bench report                       rebuild bench/results/README.md
python -m bench clean                        drop the cached history databases
"""

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import results
from bench.generator import SATURATED
from bench.scenario import Context, Result, Scenario, load
from bench.server import STALL_KEYS, can_pin, postgres_admin_url, raise_fd_limit, run_admin
from bench.stats import median_of


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres", "both"),
        default="sqlite",
        help="the server's database (default sqlite; both: SQLite, then PostgreSQL)",
    )
    parser.add_argument(
        "--database-url",
        help="PostgreSQL server to create scratch databases on (alone, it means --database "
        "postgres; "
        "default $GKCHAT_BENCH_POSTGRES_URL, $GKCHAT_TEST_POSTGRES_URL or "
        "postgresql://postgres@127.0.0.1:5432/postgres)",
    )
    parser.add_argument("--repeats", type=int, help="runs per measurement (default 3; quick 1)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a short smoke run (seconds)")
    mode.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # the tests' mode
    parser.add_argument(
        "--output-dir", type=Path, default=results.RESULTS_DIR, help="default bench/results"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the server with py-spy into <output-dir>/profile-*.txt (collapsed stacks)",
    )
    parser.add_argument(
        "--validation",
        action="store_true",
        help=f"label the results: '{results.VALIDATION_NOTE}'",
    )


def parser_for(scenarios: dict[str, Scenario]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="GK-Chat's benchmark suite: a real server, load from separate processes.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="scenarios:\n" + "\n".join(f"  {s.name:15} {s.summary}" for s in scenarios.values()),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for scenario in scenarios.values():
        p = sub.add_parser(scenario.name, help=scenario.summary)
        add_common(p)
        scenario.add_arguments(p)
    p = sub.add_parser("all", help="every scenario in turn (their default options)")
    add_common(p)
    p.add_argument("--only", help="comma-separated scenario names to run")
    p = sub.add_parser("report", help="rebuild bench/results/README.md from the JSON files")
    p.add_argument("--output-dir", type=Path, default=results.RESULTS_DIR)
    p = sub.add_parser("clean", help="drop cached history databases (files and PostgreSQL)")
    p.add_argument("--database-url")
    return parser


def environment() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpus": os.cpu_count(),
        "pinned": can_pin(),
        "loadavg": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "commit": commit or "unknown",
        "fd_limit": raise_fd_limit(),
    }


def worst_stalls(node: Any, found: dict[str, float] | None = None) -> dict[str, float]:
    """The worst of each diagnostics figure anywhere in a result."""
    found = {} if found is None else found
    if isinstance(node, dict):
        for key, value in node.items():
            if key in STALL_KEYS and isinstance(value, int | float):
                found[key] = max(found.get(key, value), value)
            else:
                worst_stalls(value, found)
    elif isinstance(node, list):
        for item in node:
            worst_stalls(item, found)
    return found


def saturated(node: Any) -> bool:
    if isinstance(node, dict):
        if node.get("generator_saturated") is True:
            return True
        return any(saturated(v) for v in node.values())
    if isinstance(node, list):
        return any(saturated(v) for v in node)
    return False


def run_one(
    scenario: Scenario, args: argparse.Namespace, database: str, mode: str
) -> tuple[Result, list[Path]]:
    ctx = Context(
        database=database,
        admin_url=args.database_url,
        repeats=args.repeats or (3 if mode == "default" else 1),
        mode=mode,
        output_dir=args.output_dir,
        profile=args.profile,
    )
    print(f"== {scenario.name} on {database} ({mode} mode, {ctx.repeats} run(s))", flush=True)
    started = datetime.datetime.now(datetime.UTC)
    env = environment()
    t0 = time.monotonic()
    result = scenario.run(args, ctx)
    result = {
        "scenario": scenario.name,
        "database": database,
        "mode": mode,
        "started_at": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "duration_s": round(time.monotonic() - t0, 1),
        "environment": env,
        "note": results.VALIDATION_NOTE if args.validation else None,
        **result,
    }
    result.setdefault("median", median_of(result["runs"]))
    result["stalls"] = worst_stalls(result["runs"])
    notes = result.setdefault("notes", [])
    if saturated(result["runs"]):
        notes.append(
            f"The load generator used more than {SATURATED:.0%} of its CPU in some step: "
            "there the figures may describe the generator, not the server."
        )
    if not result["stalls"]:
        notes.append(
            "The server reported no diagnostics (GET /api/v1/diagnostics), so event-loop "
            "stalls and GC pauses are not known."
        )
    if not env["pinned"]:
        notes.append("Server and load generator were not pinned to separate CPUs.")
    paths = results.write(scenario, result, args.output_dir)
    print(results.render_text(scenario.tables(result)))
    for note in notes:
        print(f"note: {note}")
    print(f"took {result['duration_s']:.0f} s; wrote " + ", ".join(str(p) for p in paths))
    print(flush=True)
    return result, paths


def clean(database_url: str | None) -> None:
    """Remove the cache folder's seeded databases: its files and the PostgreSQL templates
    its metadata names."""
    from bench.seed import cache_dir, read_meta

    for path in sorted(cache_dir().glob("*")):
        meta = read_meta(path) if path.suffix == ".json" else None
        if meta and meta.get("database"):
            name = meta["database"]
            try:
                run_admin(
                    postgres_admin_url(database_url),
                    f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                )
                print(f"dropped database {name}")
            except OSError as exc:
                print(f"PostgreSQL not reached ({exc}); database {name} is still there")
                continue
        path.unlink()
        print(f"removed {path}")


def main(argv: list[str] | None = None) -> int:
    # Stopped with SIGTERM, still stop the server and drop the scratch database on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    scenarios = load()
    args = parser_for(scenarios).parse_args(argv)
    if args.command == "report":
        print(f"wrote {results.report(scenarios, args.output_dir)}")
        return 0
    if args.command == "clean":
        clean(args.database_url)
        return 0
    raise_fd_limit()
    if args.database_url and args.database == "sqlite":
        args.database = "postgres"  # a PostgreSQL URL alone means PostgreSQL
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    mode = "tiny" if args.tiny else "quick" if args.quick else "default"
    if args.command == "all":
        chosen = args.only.split(",") if args.only else list(scenarios)
        todo = [scenarios[name] for name in chosen if args.only or scenarios[name].in_all]
    else:
        todo = [scenarios[args.command]]
    summary = []
    for scenario in todo:
        for database in databases:
            if database not in scenario.databases:
                continue
            result, _ = run_one(scenario, args, database, mode)
            summary.append((scenario.name, database, result["duration_s"]))
    if len(summary) > 1:
        print(json.dumps({f"{n} ({d})": f"{s:.0f} s" for n, d, s in summary}, indent=1))
    results.report(scenarios, args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
