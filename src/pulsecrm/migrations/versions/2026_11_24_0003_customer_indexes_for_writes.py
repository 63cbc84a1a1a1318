"""indexes for writes: none on the aggregates, lower(city), fillfactor 85, covering orders index

The writer rewrites the aggregates after every batch; an index on any of them made every such
update maintain all six indexes. City rules compare lower(city), which the plain index on
city could not serve. Recomputing aggregates reads each customer's orders: an index on
(customer, ordered_at, amount) answers that without reading the table.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_customers_total_spend", table_name="customers")
    op.drop_index("ix_customers_last_order_at", table_name="customers")
    op.drop_index("ix_customers_city", table_name="customers")
    op.create_index("ix_customers_lower_city", "customers", [sa.text("lower(city)")])
    op.drop_index("ix_orders_customer_external_id", table_name="orders")
    op.create_index(
        "ix_orders_customer_ordered_at_amount", "orders", ["customer_external_id", "ordered_at", "amount"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE customers SET (fillfactor = 85)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE customers RESET (fillfactor)")
    op.drop_index("ix_orders_customer_ordered_at_amount", table_name="orders")
    op.create_index("ix_orders_customer_external_id", "orders", ["customer_external_id"])
    op.drop_index("ix_customers_lower_city", table_name="customers")
    op.create_index("ix_customers_city", "customers", ["city"])
    op.create_index("ix_customers_last_order_at", "customers", ["last_order_at"])
    op.create_index("ix_customers_total_spend", "customers", ["total_spend"])
