"""Fixtures for cluster tests: real ``gkchat serve`` nodes on PostgreSQL and Redis.

They skip, with the reason, unless GKCHAT_TEST_POSTGRES_URL and GKCHAT_TEST_REDIS_URL are set.
"""

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.cluster import Accounts, cluster
from tests.support.process import ServerProcess
from tests.support.redis import shared_redis_url


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[list[ServerProcess]]:
    """Two nodes on the shared Redis, for the tests of one module (they use new users)."""
    redis_url = shared_redis_url()
    with cluster(tmp_path_factory.mktemp("cluster"), worker_id, redis_url) as servers:
        yield servers


@pytest.fixture
async def accounts() -> AsyncIterator[Accounts]:
    registry = Accounts()
    yield registry
    await registry.close()
