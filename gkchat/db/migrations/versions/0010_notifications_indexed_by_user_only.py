"""Notifications are indexed by user alone, not by (user_id, created_at).

A burst of messages from one sender collapses into one unread notification, and every
message bumps it: its count, text, reference and ``created_at``. With ``created_at`` in an
index, each bump moved the notification's index entry (a page per message on SQLite once a
user's notifications span pages) and, on PostgreSQL, could not be a HOT update: after 78,000
messages among 50 pairs, 74,950 bumps had left 74,950 dead versions, 10 MB for 50 live rows,
and PostgreSQL's CPU per message grew from one benchmark run to the next. The listing (newest
first) now sorts the user's notifications: for a user with 5,000 of them, listing a page and
counting the unread took 2.33 -> 2.58 ms on SQLite and 2.79 -> 4.18 ms on PostgreSQL (the
unread count, which reads them all either way, is most of it).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 06:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_notifications_user_id", "notifications", ["user_id"], unique=False)
    op.drop_index("ix_notifications_user_id_created_at", table_name="notifications")


def downgrade() -> None:
    op.create_index(
        "ix_notifications_user_id_created_at",
        "notifications",
        ["user_id", "created_at"],
        unique=False,
    )
    op.drop_index("ix_notifications_user_id", table_name="notifications")
