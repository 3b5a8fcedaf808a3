"""Notifications: actor and count for collapsing message bursts; per-conversation mutes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNREAD_MESSAGE = "type = 'message' AND read_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_id", sa.String(length=26), nullable=True))
        batch_op.add_column(sa.Column("count", sa.Integer(), server_default="1", nullable=False))
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_actor_id_users"),
            "users",
            ["actor_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "uq_notifications_unread_message",
            ["user_id", "actor_id"],
            unique=True,
            sqlite_where=sa.text(_UNREAD_MESSAGE),
            postgresql_where=sa.text(_UNREAD_MESSAGE),
        )
    op.create_table(
        "mutes",
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("peer_id", sa.String(length=26), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["users.id"], name=op.f("fk_mutes_peer_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mutes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "peer_id", name=op.f("pk_mutes")),
    )


def downgrade() -> None:
    op.drop_table("mutes")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("uq_notifications_unread_message")
        batch_op.drop_constraint(batch_op.f("fk_notifications_actor_id_users"), type_="foreignkey")
        batch_op.drop_column("count")
        batch_op.drop_column("actor_id")
