"""The soak in its tiny mode (300 sockets, a few seconds): nothing leaks between cycles.

``python -m bench soak --tiny`` opens every socket, sends, closes them all (the warm-up that
sets the baseline), then does it again; afterwards the server's descriptors must be back at
the baseline and its resident memory may have grown only a little.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.bench, pytest.mark.slow]
# Generous on purpose: at 300 sockets a leak of a whole connection's memory (about 50 KiB)
# per socket per cycle would be 15 MiB; allocator noise on a loaded machine stays far below.
RSS_GROWTH_MIB = 24.0
FD_SLACK = 8


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One tiny soak run's result (the median of its single run)."""
    output = tmp_path_factory.mktemp("soak")
    command = [sys.executable, "-m", "bench", "soak", "--tiny", "--output-dir", str(output)]
    done = subprocess.run(
        command, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads((output / "soak-sqlite.json").read_text())
    return result


def test_every_message_is_delivered(soak: dict[str, Any]) -> None:
    """Every message sent during the soak was acknowledged and delivered, without errors."""
    m = soak["median"]
    assert m["sent"] > 0
    assert m["acked"] == m["sent"]
    assert m["delivered"] == m["sent"]
    assert m["errors"] == 0


def test_descriptors_return_to_the_baseline(soak: dict[str, Any]) -> None:
    """Once every socket has closed, the server holds no more descriptors than before."""
    m = soak["median"]
    assert m["fds_open"] >= m["fds_baseline"] + m["connections"] * 0.9
    assert m["fds_growth"] <= FD_SLACK


def test_memory_growth_is_bounded(soak: dict[str, Any]) -> None:
    """A second full cycle leaves the server's RSS within a generous bound of the first's."""
    assert soak["median"]["rss_growth_mib"] <= RSS_GROWTH_MIB


def test_the_server_forgets_every_connection(soak: dict[str, Any]) -> None:
    """The server's own count of connections is back to zero."""
    assert soak["median"]["server_connections_end"] == 0


def test_p99_is_measured_in_every_window(soak: dict[str, Any]) -> None:
    """Each window of the soak reports a delivery p99."""
    windows = soak["runs"][0]["windows"]
    assert len(windows) == soak["config"]["windows"]
    assert all(w["delivery_p99_ms"] is not None for w in windows)
