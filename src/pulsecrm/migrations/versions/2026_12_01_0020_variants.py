"""A/B variants: a campaign's message variants, how they are tested, and each delivery's variant

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import pulsecrm.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "campaigns", sa.Column("variants", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"))
    )
    op.add_column("campaigns", sa.Column("variant_test_percent", sa.Integer()))
    op.add_column("campaigns", sa.Column("variant_test_hours", sa.Integer()))
    op.add_column("campaigns", sa.Column("variant_metric", sa.String(10)))
    op.add_column("campaigns", sa.Column("winner", sa.Integer()))
    op.add_column("campaigns", sa.Column("winner_reason", sa.String(500)))
    op.add_column("campaigns", sa.Column("winner_at", pulsecrm.db.UTCDateTime(timezone=True)))
    op.add_column("deliveries", sa.Column("variant", sa.SmallInteger()))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_column("variant")
    with op.batch_alter_table("campaigns") as batch_op:
        for name in (
            "winner_at",
            "winner_reason",
            "winner",
            "variant_metric",
            "variant_test_hours",
            "variant_test_percent",
            "variants",
        ):
            batch_op.drop_column(name)
