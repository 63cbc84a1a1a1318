"""customer_changes: the feed that keeps the in-memory audience engine fresh

One row per ingestion batch with the external ids of the customers it touched, written in
the batch's transaction; audience engines poll it and re-read those customers.

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import pulsecrm.db

revision: str = "0017"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_changes",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("external_ids", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_customer_changes")),
    )


def downgrade() -> None:
    op.drop_table("customer_changes")
