"""The short mode of the durability runs (``tests/stress/durability.py``), on every CI run:
400 messages retried until acknowledged while the server is killed with SIGKILL three times
(SQLite and PostgreSQL), or its PostgreSQL connections are terminated three times."""

from pathlib import Path

import pytest

from tests.stress.durability import SHORT, Backend, Plan, run_plan
from tests.support import databases


def needs_backend(backend: Backend) -> None:
    if backend == "postgres" and databases.postgres_admin_url() is None:
        pytest.skip(f"PostgreSQL tests need {databases.POSTGRES_ENV}=postgresql://user@host/db")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_kill_9_under_load_loses_duplicates_and_reorders_nothing_acknowledged(
    backend: Backend, tmp_path: Path, worker_id: str
) -> None:
    """Three SIGKILLs under load: every message acked once, in order, stored once; DB intact."""
    needs_backend(backend)
    figures = run_plan(Plan("kill", backend, **SHORT), tmp_path, worker_id=worker_id)
    assert figures.problems() == [], figures.summary()
    assert figures.disruptions == SHORT["disruptions"]


def test_cut_database_connections_are_503_then_recovered_without_loss(
    tmp_path: Path, worker_id: str
) -> None:
    """pg_terminate_backend three times under load: only well-formed 503s, the server recovers
    by itself (same process), and every acked message is stored once, in order."""
    needs_backend("postgres")
    figures = run_plan(Plan("cut", "postgres", **SHORT), tmp_path, worker_id=worker_id)
    assert figures.problems() == [], figures.summary()
    assert figures.disruptions == SHORT["disruptions"]
