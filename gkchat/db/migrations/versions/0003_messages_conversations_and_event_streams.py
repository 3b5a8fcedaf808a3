"""Messages get conversation positions; conversations, stream heads and events.

No release wrote messages before this revision, so the new NOT NULL columns need no backfill.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 03:59:10.661843
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "conversations",
        sa.Column("user_id1", sa.String(length=26), nullable=False),
        sa.Column("user_id2", sa.String(length=26), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_message_id", sa.String(length=26), nullable=True),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_seq1", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("read_seq2", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("user_id1 < user_id2", name=op.f("ck_conversations_ordered_pair")),
        sa.ForeignKeyConstraint(
            ["user_id1"],
            ["users.id"],
            name=op.f("fk_conversations_user_id1_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id2"],
            ["users.id"],
            name=op.f("fk_conversations_user_id2_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id1", "user_id2", name=op.f("pk_conversations")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conversations_user_id1_last_activity_at"),
            ["user_id1", "last_activity_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_conversations_user_id2_last_activity_at"),
            ["user_id2", "last_activity_at"],
            unique=False,
        )

    op.create_table(
        "events",
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=48), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_events_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "seq", name=op.f("pk_events")),
    )
    op.create_table(
        "stream_heads",
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_stream_heads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_stream_heads")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id1", sa.String(length=26), nullable=False))
        batch_op.add_column(sa.Column("user_id2", sa.String(length=26), nullable=False))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=False))
        batch_op.drop_index(batch_op.f("ix_messages_recipient_id_sender_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_messages_sender_id_recipient_id_created_at"))
        batch_op.create_index(
            batch_op.f("ix_messages_recipient_id"), ["recipient_id"], unique=False
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_messages_user_id1_user_id2_seq"), ["user_id1", "user_id2", "seq"]
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_messages_user_id1_user_id2_seq"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_messages_recipient_id"))
        batch_op.create_index(
            batch_op.f("ix_messages_sender_id_recipient_id_created_at"),
            ["sender_id", "recipient_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_messages_recipient_id_sender_id_created_at"),
            ["recipient_id", "sender_id", "created_at"],
            unique=False,
        )
        batch_op.drop_column("seq")
        batch_op.drop_column("user_id2")
        batch_op.drop_column("user_id1")

    op.drop_table("stream_heads")
    op.drop_table("events")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_user_id2_last_activity_at"))
        batch_op.drop_index(batch_op.f("ix_conversations_user_id1_last_activity_at"))

    op.drop_table("conversations")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("last_seen_at")
