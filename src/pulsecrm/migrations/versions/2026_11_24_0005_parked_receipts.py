"""parked receipts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pulsecrm.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "parked_receipts",
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("occurred_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_parked_receipts")),
    )
    with op.batch_alter_table("parked_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_parked_receipts_received_at"), ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("parked_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_parked_receipts_received_at"))

    op.drop_table("parked_receipts")
