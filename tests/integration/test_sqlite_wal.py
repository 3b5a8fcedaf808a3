"""Opening an SQLite file puts it in WAL mode, or refuses with "try again"."""

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from gkchat.db.engine import Database
from gkchat.domain.errors import Unavailable


async def test_a_new_file_held_by_another_process_is_unavailable_not_left_in_rollback_mode(
    tmp_path: Path,
) -> None:
    """While another process holds a new file's exclusive lock, the switch to WAL waits out the
    busy timeout and then says "try again" (503), instead of going on without WAL."""
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE notes (body TEXT)")
    holder.execute("BEGIN EXCLUSIVE")
    database = Database(f"sqlite:///{path}", busy_timeout=0.2)
    try:
        with pytest.raises(Unavailable):
            async with database.read() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await database.dispose()
    async with Database(f"sqlite:///{path}").read() as conn:
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
    assert mode == "wal"
