"""Fixtures for end-to-end tests: a real ``gkchat serve`` process on each backend."""

from collections.abc import Iterator

import pytest

from tests.support.process import BACKENDS, ServerProcess, serve_process


@pytest.fixture(scope="module", params=BACKENDS)
def gkchat_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[ServerProcess]:
    """``gkchat serve`` for the tests of one module, on SQLite (GKCHAT_DATA_DIR in a temporary
    directory) and on a fresh PostgreSQL database. Tests keep apart by using new users."""
    directory = tmp_path_factory.mktemp(f"gkchat_serve_{request.param}")
    with serve_process(request.param, directory, worker_id) as server:
        yield server
