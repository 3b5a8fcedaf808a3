"""Messages lose their index on recipient_id.

No query searches messages by recipient alone: history, sync and receipts go through the
conversation (user_id1, user_id2, seq), and idempotent sends through (sender_id, client_id).
The index only cost each send a leaf page of its own: in a batch of 64 messages among 64
pairs on SQLite it was 80 of the 500 pages the commit wrote (``bench.wal_pages``), and the
batch's CPU went from 7.8 to 7.3 ms without it. The foreign key stays; deleting a users row
(which GK-Chat never does: accounts are disabled) now scans messages for the cascade.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 04:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_messages_recipient_id", table_name="messages")


def downgrade() -> None:
    op.create_index("ix_messages_recipient_id", "messages", ["recipient_id"], unique=False)
