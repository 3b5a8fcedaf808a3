"""Clean databases for tests: an SQLite file per test, and PostgreSQL when configured.

SQLite: the schema is migrated once into a template file, which each test copies.
PostgreSQL: each pytest-xdist worker gets its own database, migrated once and truncated
before every test. ``GKCHAT_TEST_POSTGRES_URL`` names the server; when it is set and the server
cannot be reached, tests fail rather than skip.
"""

import os
import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from gkchat.db.engine import Database, normalise_url
from gkchat.db.migrate import upgrade
from gkchat.db.tables import metadata

POSTGRES_ENV = "GKCHAT_TEST_POSTGRES_URL"
REDIS_ENV = "GKCHAT_TEST_REDIS_URL"


def scratch_name(purpose: str, worker_id: str) -> str:
    """A PostgreSQL database name no other test run uses, even one running at the same time."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))[:12]
    return f"gkchat_{purpose}_{run}_{worker_id}"


def postgres_admin_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


def redis_test_url() -> str | None:
    return os.environ.get(REDIS_ENV) or None


async def migrate(url: str) -> None:
    database = Database(url)
    try:
        await upgrade(database)
    finally:
        await database.dispose()


async def make_sqlite_template(directory: Path) -> Path:
    template = directory / "template.db"
    await migrate(f"sqlite+aiosqlite:///{template}")
    return template


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "gkchat.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


async def create_postgres_database(admin_url: str, name: str) -> str:
    """Drop and create database ``name`` on the server of ``admin_url``; return its URL."""
    admin = normalise_url(admin_url)
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(admin_url: str, name: str) -> None:
    engine = create_async_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


async def truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    engine = create_async_engine(make_url(url))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
