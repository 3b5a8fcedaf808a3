"""The benchmark suite in its tiniest mode, against a real server, so that it cannot rot.

``python -m bench all --tiny`` runs every scenario with a few connections, a few messages and
a 1,000-message history; these tests check that each wrote JSON with the expected keys and
sane values (rates above zero, percentiles in order), its Markdown table, and the summary.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("connections", "ws-messages", "rest-messages", "auth", "history")
pytestmark = [pytest.mark.bench, pytest.mark.slow]


def run_bench(tmp_path: Path, *args: str) -> None:
    env = {**os.environ, "GKCHAT_BENCH_CACHE": str(tmp_path / "cache")}
    command = [sys.executable, "-m", "bench", *args, "--tiny", "--output-dir", str(tmp_path)]
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def clean(tmp_path: Path) -> None:
    env = {**os.environ, "GKCHAT_BENCH_CACHE": str(tmp_path / "cache")}
    subprocess.run(
        [sys.executable, "-m", "bench", "clean"], cwd=ROOT, env=env, check=True, timeout=60
    )


def ordered(summary: dict[str, Any]) -> None:
    """Latency percentiles exist and never decrease."""
    values = [summary[k] for k in ("p50", "p99", "p99.9", "max") if k in summary]
    assert summary["count"] > 0
    assert all(isinstance(v, int | float) and v >= 0 for v in values), summary
    assert values == sorted(values), summary


def check_messages(m: dict[str, Any]) -> None:
    assert m["max_messages_per_s"] > 0
    assert m["messages_per_server_cpu_s"] > 0
    for step in [*m["ladder"].values(), m["closed_loop"]]:
        assert step["undelivered"] == 0
        assert step["errors"] == 0
        assert step["achieved_per_s"] > 0
        assert step["server_cpu_ms_per_op"] > 0
        ordered(step["ack_ms"])
        ordered(step["delivery_ms"])
        assert 0 <= step["generator_cpu"] <= 1.5


def check(result: dict[str, Any]) -> None:
    m = result["median"]
    name = result["scenario"]
    if name == "connections":
        level = m[str(result["config"]["levels"][-1])]
        assert level["connections"] == result["config"]["levels"][-1]
        assert level["connect_per_s"] > 0
        assert level["rss_after_mib"] > 0
        assert not math.isnan(level["rss_kib_per_connection"])
        assert level["server_reported_connections"] >= level["connections"]
        ordered(level["connect_ms"])
    elif name in ("ws-messages", "rest-messages"):
        check_messages(m)
    elif name == "auth":
        for key in ("register", "login"):
            assert m[key]["per_s"] > 0
            assert m[key]["failures"] == 0
            ordered(m[key]["latency_ms"])
        assert m["storm_logins"]["per_s"] > 0
        for key in ("baseline", "during_storm"):
            assert m[key]["undelivered"] == 0
            ordered(m[key]["delivery_ms"])
        assert isinstance(m["goal_met"], bool)
    elif name == "cluster":
        for workers in result["config"]["workers"]:
            level = m[str(workers)]
            for step in (level["light"], level["closed_loop"]):
                assert step["undelivered"] == 0
                assert step["errors"] == 0
                assert step["achieved_per_s"] > 0
                ordered(step["delivery_ms"])
    elif name == "history":
        ordered(m["latest_page_ms"])
        assert set(m["pages_ms"]) == {str(d) for d in result["config"]["depths"]}
        for summary in m["pages_ms"].values():
            ordered(summary)
        assert m["sync"]["events"] == result["config"]["sync_events"]
        assert m["sync"]["events_per_s"] > 0
        assert m["scroll_back"]["messages"] >= max(result["config"]["depths"])
    # Every scenario reports the server's stalls (GKCHAT_DIAGNOSTICS=on).
    assert result["stalls"]["loop_stall_max_ms"] >= 0
    assert result["stalls"]["gc_pause_max_ms"] >= 0
    assert len(result["runs"]) == 1
    assert result["environment"]["cpus"] >= 1


def read(tmp_path: Path, name: str, database: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((tmp_path / f"{name}-{database}.json").read_text())
    assert result["scenario"] == name
    assert result["database"] == database
    assert result["mode"] == "tiny"
    assert (tmp_path / f"{name}-{database}.md").read_text().startswith(f"# {name} on {database}")
    return result


def test_every_scenario_on_sqlite(tmp_path: Path) -> None:
    try:
        run_bench(tmp_path, "all")
    finally:
        clean(tmp_path)
    for name in SCENARIOS:
        check(read(tmp_path, name, "sqlite"))
    summary = (tmp_path / "README.md").read_text()
    assert all(f"## {name} on sqlite" in summary for name in SCENARIOS)


@pytest.mark.postgres
def test_messages_and_history_on_postgres(tmp_path: Path) -> None:
    url = os.environ.get("GKCHAT_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PostgreSQL runs need GKCHAT_TEST_POSTGRES_URL=postgresql://user@host/db")
    try:
        run_bench(tmp_path, "all", "--only", "ws-messages,history", "--database-url", url)
    finally:
        clean(tmp_path)
    for name in ("ws-messages", "history"):
        check(read(tmp_path, name, "postgres"))


@pytest.mark.postgres
def test_cluster_on_postgres_and_redis(tmp_path: Path) -> None:
    """Two workers on PostgreSQL and the Redis hub carry every message between their sockets."""
    url = os.environ.get("GKCHAT_TEST_POSTGRES_URL")
    redis_url = os.environ.get("GKCHAT_TEST_REDIS_URL")
    if not url or not redis_url:
        pytest.skip("the cluster scenario needs GKCHAT_TEST_POSTGRES_URL and GKCHAT_TEST_REDIS_URL")
    run_bench(tmp_path, "cluster", "--database-url", url, "--redis-url", redis_url)
    check(read(tmp_path, "cluster", "postgres"))
