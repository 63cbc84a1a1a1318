"""Orders by time: the dashboard reads orders and revenue per day from an index

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_orders_ordered_at_amount", "orders", ["ordered_at", "amount"])


def downgrade() -> None:
    op.drop_index("ix_orders_ordered_at_amount", table_name="orders")
