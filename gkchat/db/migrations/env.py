"""Alembic environment. GK-Chat runs migrations through ``gkchat.db.migrate``, which hands in
an open connection; running ``alembic`` by hand also works with ``GKCHAT_DATABASE_URL`` set."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from gkchat.db.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_standalone() -> None:
    from gkchat.config import Settings
    from gkchat.db.engine import Database

    async def main() -> None:
        database = Database(Settings().resolved_database_url)
        async with database.engine.begin() as conn:
            await conn.run_sync(_run)
        await database.dispose()

    asyncio.run(main())


connection = context.config.attributes.get("connection")
if connection is None:
    _run_standalone()
else:
    _run(connection)
