"""The periodic clean-up runs once per interval across the cluster, not once per node."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import cluster
from tests.support.process import ServerProcess
from tests.support.redis import shared_redis_url

INTERVAL = 1.0
WINDOW = 6.0
RUN_LINE = "runs the clean-up"


@pytest.fixture
def nodes(tmp_path: Path, worker_id: str) -> Iterator[list[ServerProcess]]:
    with cluster(
        tmp_path, worker_id, shared_redis_url(), maintenance_interval=str(INTERVAL)
    ) as servers:
        yield servers


def runs(nodes: list[ServerProcess]) -> list[int]:
    """How many times each node has run the clean-up (it logs each run)."""
    return [node.output().count(RUN_LINE) for node in nodes]


async def test_two_nodes_run_the_clean_up_once_per_interval_between_them(
    nodes: list[ServerProcess],
) -> None:
    """Over a few intervals the two nodes together run it about once per interval."""
    before = runs(nodes)
    await asyncio.sleep(WINDOW)  # a window to count runs in, not a wait for something
    during = sum(runs(nodes)) - sum(before)

    assert WINDOW / INTERVAL - 2 <= during <= WINDOW / INTERVAL + 1
