"""Migrations build exactly the schema in gkchat/db/tables.py, and the database keeps its rules.

Every test runs on SQLite and on PostgreSQL (skipped unless GKCHAT_TEST_POSTGRES_URL is set).
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gkchat.db import tables
from gkchat.db.engine import Database
from gkchat.db.migrate import current_revision, downgrade, head_revision, upgrade
from gkchat.domain.ids import new_id
from tests.support import databases

BACKENDS = ["sqlite", "postgres"]
FOUNDING_TABLES = {
    "users",
    "sessions",
    "messages",
    "friendships",
    "notifications",
    "throttle_counters",
}


@pytest.fixture(params=BACKENDS)
async def empty_database(
    request: pytest.FixtureRequest, tmp_path: Path, worker_id: str
) -> AsyncIterator[Database]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database."""
    admin_url, name = None, databases.scratch_name("migrate", worker_id)
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    else:
        admin_url = databases.postgres_admin_url()
        if admin_url is None:
            pytest.skip(f"PostgreSQL tests need {databases.POSTGRES_ENV}")
        url = await databases.create_postgres_database(admin_url, name)
    database = Database(url)
    yield database
    await database.dispose()
    if admin_url is not None:
        await databases.drop_postgres_database(admin_url, name)


@pytest.fixture
async def migrated(empty_database: Database) -> Database:
    """A freshly migrated database with no rows, on each backend."""
    await upgrade(empty_database)
    return empty_database


async def table_names(database: Database) -> set[str]:
    async with database.read() as conn:
        names: list[str] = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names)


def schema_differences(sync: Connection) -> list[Any]:
    context = MigrationContext.configure(
        sync, opts={"compare_type": True, "compare_server_default": True}
    )
    differences: list[Any] = compare_metadata(context, tables.metadata)
    return differences


def user_row(username: str, email: str | None = None) -> dict[str, Any]:
    """A users row as the application writes it: the *_key columns are the lower-cased values."""
    email = email or f"{username}@example.com"
    return {
        "id": new_id(),
        "username": username,
        "username_key": username.lower(),
        "email": email,
        "email_key": email.lower(),
        "password_hash": "$argon2id$not-a-real-hash",
        "created_at": datetime.now(UTC),
    }


async def insert_users(conn: AsyncConnection, *names: str) -> list[str]:
    rows = [user_row(name) for name in names]
    for row in rows:
        await conn.execute(tables.users.insert().values(**row))
    return [row["id"] for row in rows]


async def test_upgrade_creates_the_founding_tables(empty_database: Database) -> None:
    """From an empty database, upgrade to head creates every founding table."""
    assert await table_names(empty_database) == set()
    await upgrade(empty_database)
    assert await table_names(empty_database) >= FOUNDING_TABLES


async def test_upgrade_creates_every_table_in_the_metadata(empty_database: Database) -> None:
    """After upgrade, every table of tables.metadata exists (plus Alembic's own)."""
    await upgrade(empty_database)
    assert await table_names(empty_database) == {*tables.metadata.tables, "alembic_version"}


async def test_upgrade_records_the_head_revision(empty_database: Database) -> None:
    """After upgrade the database is stamped with the newest revision."""
    assert await current_revision(empty_database) is None
    await upgrade(empty_database)
    assert await current_revision(empty_database) == head_revision()


async def test_second_upgrade_is_a_no_op(empty_database: Database) -> None:
    """Upgrading an up-to-date database changes nothing and keeps its data."""
    await upgrade(empty_database)
    async with empty_database.write() as conn:
        await insert_users(conn, "alice")
    await upgrade(empty_database)
    async with empty_database.read() as conn:
        usernames = (await conn.execute(select(tables.users.c.username))).scalars().all()
    assert usernames == ["alice"]
    assert await current_revision(empty_database) == head_revision()


async def test_downgrade_to_base_drops_every_table(empty_database: Database) -> None:
    """Downgrading to base removes every application table and the revision stamp."""
    await upgrade(empty_database)
    await downgrade(empty_database, "base")
    assert await table_names(empty_database) <= {"alembic_version"}
    assert await current_revision(empty_database) is None


async def test_upgrade_after_downgrade_rebuilds_the_schema(empty_database: Database) -> None:
    """After a full downgrade, upgrading again gives the same complete schema."""
    await upgrade(empty_database)
    await downgrade(empty_database, "base")
    await upgrade(empty_database)
    assert await current_revision(empty_database) == head_revision()
    async with empty_database.read() as conn:
        assert await conn.run_sync(schema_differences) == []


async def test_migrated_schema_matches_the_table_definitions(empty_database: Database) -> None:
    """Alembic autogenerate finds no difference between the migrations and tables.py."""
    await upgrade(empty_database)
    async with empty_database.read() as conn:
        assert await conn.run_sync(schema_differences) == []


async def test_every_revision_downgrades_one_step(empty_database: Database) -> None:
    """Each revision can be undone on its own: head -> -1 -> ... -> base, then back up."""
    await upgrade(empty_database)
    while await current_revision(empty_database) is not None:
        await downgrade(empty_database, "-1")
    assert await table_names(empty_database) <= {"alembic_version"}
    await upgrade(empty_database)
    assert await current_revision(empty_database) == head_revision()


async def test_whole_second_times_written_short_are_normalised(tmp_path: Path) -> None:
    """A time once bulk-written without ".000000" (revisions before 0007, SQLite: PostgreSQL
    stores timestamps, not text) is rewritten in the form queries compare with, so the
    notification it dates is found again."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'before-0007.db'}")
    try:
        await upgrade(database, "0006")
        async with database.write() as conn:
            (user_id,) = await insert_users(conn, "shorttime")
            await conn.execute(
                text(
                    "INSERT INTO notifications (id, user_id, type, reference_id, content,"
                    " created_at, count)"
                    " VALUES (:id, :user_id, 'message', :id, 'hi', '2026-11-24 15:30:01', 1)"
                ),
                {"id": new_id(), "user_id": user_id},
            )
        await upgrade(database)

        whole = datetime(2026, 11, 24, 15, 30, 1, tzinfo=UTC)
        n = tables.notifications
        async with database.read() as conn:
            found = await conn.execute(select(func.count()).where(n.c.created_at == whole))
            assert found.scalar_one() == 1
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    ("pragma", "expected"),
    [("journal_mode", "wal"), ("synchronous", 2), ("wal_autocheckpoint", 4000)],
)
@pytest.mark.parametrize("access", ["read", "write"])
async def test_sqlite_connections_are_durable_wal(
    tmp_path: Path, pragma: str, expected: object, access: str
) -> None:
    """Every SQLite connection runs in WAL mode with synchronous=FULL (2), and checkpoints
    the log every 4,000 pages."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}")
    try:
        context = database.read() if access == "read" else database.write()
        async with context as conn:
            value = (await conn.execute(text(f"PRAGMA {pragma}"))).scalar()
    finally:
        await database.dispose()
    assert value == expected


@pytest.mark.parametrize("access", ["read", "write"])
async def test_sqlite_connections_enforce_foreign_keys(tmp_path: Path, access: str) -> None:
    """Every SQLite connection has foreign_keys switched on."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'pragmas.db'}")
    try:
        context = database.read() if access == "read" else database.write()
        async with context as conn:
            value = (await conn.execute(text("PRAGMA foreign_keys"))).scalar()
    finally:
        await database.dispose()
    assert value == 1


async def test_foreign_keys_are_enforced(migrated: Database) -> None:
    """A session for a user that does not exist is refused by the database."""
    now = datetime.now(UTC)
    with pytest.raises(IntegrityError):
        async with migrated.write() as conn:
            await conn.execute(
                tables.sessions.insert().values(
                    id=new_id(),
                    user_id=new_id(),
                    token_hash="0" * 64,
                    created_at=now,
                    expires_at=now,
                    last_used_at=now,
                )
            )


async def test_deleting_a_user_cascades_to_their_sessions(migrated: Database) -> None:
    """ON DELETE CASCADE holds: a deleted user's sessions go with them."""
    now = datetime.now(UTC)
    async with migrated.write() as conn:
        [user_id] = await insert_users(conn, "alice")
        await conn.execute(
            tables.sessions.insert().values(
                id=new_id(),
                user_id=user_id,
                token_hash="0" * 64,
                created_at=now,
                expires_at=now,
                last_used_at=now,
            )
        )
    async with migrated.write() as conn:
        await conn.execute(tables.users.delete().where(tables.users.c.id == user_id))
    async with migrated.read() as conn:
        remaining = (await conn.execute(select(func.count()).select_from(tables.sessions))).scalar()
    assert remaining == 0


@pytest.mark.parametrize(("first", "second"), [("alice", "ALICE"), ("Bob.Smith", "bob.smith")])
async def test_usernames_differing_only_in_case_are_refused(
    migrated: Database, first: str, second: str
) -> None:
    """The database refuses a second username that equals the first ignoring case."""
    async with migrated.write() as conn:
        await conn.execute(tables.users.insert().values(**user_row(first, "one@example.com")))
    with pytest.raises(IntegrityError):
        async with migrated.write() as conn:
            await conn.execute(tables.users.insert().values(**user_row(second, "two@example.com")))


async def test_emails_differing_only_in_case_are_refused(migrated: Database) -> None:
    """The database refuses a second email address that equals the first ignoring case."""
    async with migrated.write() as conn:
        await conn.execute(tables.users.insert().values(**user_row("alice", "Alice@Example.com")))
    with pytest.raises(IntegrityError):
        async with migrated.write() as conn:
            await conn.execute(tables.users.insert().values(**user_row("bob", "alice@EXAMPLE.COM")))


async def test_distinct_usernames_and_emails_are_accepted(migrated: Database) -> None:
    """Different people with different names and addresses are both stored."""
    async with migrated.write() as conn:
        await insert_users(conn, "alice", "alicia")
    async with migrated.read() as conn:
        count = (await conn.execute(select(func.count()).select_from(tables.users))).scalar()
    assert count == 2


@pytest.mark.parametrize("order", ["reversed", "same"])
async def test_friendship_pair_must_be_ordered(migrated: Database, order: str) -> None:
    """The database refuses a friendship row unless user_id1 < user_id2."""
    async with migrated.write() as conn:
        low, high = sorted(await insert_users(conn, "alice", "bob"))
    pair = (high, low) if order == "reversed" else (low, low)
    with pytest.raises(IntegrityError):
        async with migrated.write() as conn:
            await conn.execute(
                tables.friendships.insert().values(
                    user_id1=pair[0], user_id2=pair[1], created_at=datetime.now(UTC)
                )
            )


async def test_ordered_friendship_pair_is_accepted(migrated: Database) -> None:
    """A friendship row with user_id1 < user_id2 is stored."""
    async with migrated.write() as conn:
        low, high = sorted(await insert_users(conn, "alice", "bob"))
        await conn.execute(
            tables.friendships.insert().values(
                user_id1=low, user_id2=high, created_at=datetime.now(UTC)
            )
        )
    async with migrated.read() as conn:
        rows = (await conn.execute(select(tables.friendships.c.user_id1))).scalars().all()
    assert rows == [low]
