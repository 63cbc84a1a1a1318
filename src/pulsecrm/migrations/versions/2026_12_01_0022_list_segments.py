"""list segments

A segment kind (issue 14, lookalike audiences): `rules` segments as before, and `list`
segments whose customers are saved explicitly in `segment_members`. Self-contained: it adds a
column and a table and touches nothing another migration of the day would.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A plain ADD COLUMN on both databases; batch mode would rebuild the table on SQLite.
    op.add_column("segments", sa.Column("kind", sa.String(10), server_default="rules", nullable=False))
    if op.get_bind().dialect.name != "sqlite":
        # SQLite adds a CHECK only by rebuilding the table; there the service is the guard.
        op.create_check_constraint("kind", "segments", "kind IN ('rules', 'list')")
    op.create_table(
        "segment_members",
        sa.Column("segment_id", _ID, nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_segment_members_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_segment_members_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("segment_id", "customer_id", name=op.f("pk_segment_members")),
    )
    op.create_index("ix_segment_members_customer_id", "segment_members", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_segment_members_customer_id", table_name="segment_members")
    op.drop_table("segment_members")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("ck_segments_kind", "segments", type_="check")
    with op.batch_alter_table("segments") as batch_op:
        batch_op.drop_column("kind")
