"""SQLite: times on a whole second stored without ".000000" get it.

Bulk inserts (messages, events, notifications) once bound times through the driver's own
adapter, which writes ``2026-11-24 15:30:01`` where every other statement writes
``2026-11-24 15:30:01.000000``. Times are compared as text on SQLite, so such a row did not
match a query for its own time (notification cursors). PostgreSQL stores real timestamps and
needs nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 22:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The time columns that bulk inserts wrote: messages, events and notifications.
_NORMALISE = [
    "UPDATE messages SET created_at = created_at || '.000000' WHERE length(created_at) = 19",
    "UPDATE events SET created_at = created_at || '.000000' WHERE length(created_at) = 19",
    "UPDATE notifications SET created_at = created_at || '.000000' WHERE length(created_at) = 19",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in _NORMALISE:
        op.execute(statement)


def downgrade() -> None:
    """Nothing to undo: the longer form is what every statement reads and writes."""
