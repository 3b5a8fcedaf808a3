"""Conversations are indexed by each user alone, not by (user, last_activity_at).

Every message moves its conversation's last_activity_at, which moved the conversation's
entries in both (user_id1, last_activity_at) and (user_id2, last_activity_at): on SQLite a
leaf page of each index per message once there are more conversations than fit in a page,
and on PostgreSQL a new entry in every index of the table, because an update that changes an
indexed column cannot be HOT (heap-only), so the small, busy table and its indexes filled
with dead versions between autovacuum runs. The listing never used the order those indexes
kept: it asks for ``user_id1 = :me OR user_id2 = :me``, which both databases answer from two
index lookups and then sort. The primary key (user_id1, user_id2) serves the first lookup and
the new index on user_id2 the second; updates now change no indexed column.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 05:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_conversations_user_id2", "conversations", ["user_id2"], unique=False)
    op.drop_index("ix_conversations_user_id1_last_activity_at", table_name="conversations")
    op.drop_index("ix_conversations_user_id2_last_activity_at", table_name="conversations")


def downgrade() -> None:
    op.create_index(
        "ix_conversations_user_id2_last_activity_at",
        "conversations",
        ["user_id2", "last_activity_at"],
        unique=False,
    )
    op.create_index(
        "ix_conversations_user_id1_last_activity_at",
        "conversations",
        ["user_id1", "last_activity_at"],
        unique=False,
    )
    op.drop_index("ix_conversations_user_id2", table_name="conversations")
