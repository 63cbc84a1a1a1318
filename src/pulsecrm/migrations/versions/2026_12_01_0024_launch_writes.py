"""deliveries and campaign_holdouts: no foreign keys to campaigns and customers on PostgreSQL

A launch writes one delivery (or control-group row) per audience member in one INSERT …
SELECT, and PostgreSQL checked each row's two foreign keys with a query and a row lock on the
customer: 6.5 s of the 11.5 s a 1M launch's INSERT took. The statement takes every customer
id from `customers` and the campaign id from the row it holds locked, and nothing in Pulse
deletes either, so PostgreSQL drops the keys (`pulsecrm.models.audience_key` says why SQLite
keeps them; there this migration changes nothing).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = [
    (table, column, target)
    for table in ("deliveries", "campaign_holdouts")
    for column, target in (("campaign_id", "campaigns"), ("customer_id", "customers"))
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, target in _KEYS:
        op.drop_constraint(op.f(f"fk_{table}_{column}_{target}"), table, type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Rows whose customer or campaign was deleted by hand meanwhile go, as the cascade would
    # have taken them.
    for table, column, target in _KEYS:
        rows, parents = sa.table(table, sa.column(column)), sa.table(target, sa.column("id"))
        op.execute(rows.delete().where(rows.c[column].not_in(sa.select(parents.c.id))))
        op.create_foreign_key(
            op.f(f"fk_{table}_{column}_{target}"), table, target, [column], ["id"], ondelete="CASCADE"
        )
