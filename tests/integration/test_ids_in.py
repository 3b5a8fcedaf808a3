"""``ids_in``: an ``id IN ids`` condition with the ids as one parameter, on each database."""

from sqlalchemy import select

from gkchat.db.engine import Database, ids_in, ids_value
from gkchat.db.tables import users
from gkchat.domain.ids import new_id
from tests.integration.test_select_by_pairs import store_mutes


async def found(db: Database, ids: list[str]) -> set[str]:
    async with db.read() as conn:
        dialect = conn.dialect.name
        query = select(users.c.id).where(ids_in(dialect, users.c.id, "ids"))
        rows = await conn.scalars(query, {"ids": ids_value(dialect, ids)})
        return set(rows)


async def test_listed_ids_that_exist_are_found(db: Database) -> None:
    """Every listed id that is stored comes back, and no unlisted or unknown one."""
    stored = [user for pair in await store_mutes(db, 3) for user in pair]

    assert await found(db, [stored[0], stored[3], new_id()]) == {stored[0], stored[3]}


async def test_thousands_of_ids_go_as_one_parameter(db: Database) -> None:
    """5,000 ids go as one parameter in one query, and the stored ones among them are found."""
    stored = [user for pair in await store_mutes(db, 10) for user in pair]
    listed = [new_id() for _ in range(5_000)] + stored[:5]

    assert await found(db, listed) == set(stored[:5])


async def test_no_ids_match_nothing(db: Database) -> None:
    """An empty list is a valid condition that matches no row."""
    await store_mutes(db, 1)

    assert await found(db, []) == set()
