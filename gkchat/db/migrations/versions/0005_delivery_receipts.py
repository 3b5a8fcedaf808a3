"""Delivery receipts: how far each side of a conversation has received.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        for column in ("delivered_seq1", "delivered_seq2"):
            batch_op.add_column(
                sa.Column(column, sa.BigInteger(), server_default="0", nullable=False)
            )
    # What was read was received.
    op.execute("UPDATE conversations SET delivered_seq1 = read_seq1, delivered_seq2 = read_seq2")


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("delivered_seq2")
        batch_op.drop_column("delivered_seq1")
