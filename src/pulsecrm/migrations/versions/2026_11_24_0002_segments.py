"""segments

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pulsecrm.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_attribute_keys",
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.Column("value_type", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("attribute", "value_type", name=op.f("pk_customer_attribute_keys")),
    )
    op.create_table(
        "segments",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column("rules", pulsecrm.db.JSONType, nullable=False),
        sa.Column("last_count", sa.Integer(), nullable=True),
        sa.Column("last_counted_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("name", name=op.f("uq_segments_name")),
    )


def downgrade() -> None:
    op.drop_table("segments")
    op.drop_table("customer_attribute_keys")
