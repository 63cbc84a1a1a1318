"""deliveries: fewer writes per row a launch freezes

A launch writes one delivery (or control-group row) per audience member in one INSERT …
SELECT; for a 1M audience everything below happens a million times.

- PostgreSQL checked each row's two foreign keys with a query and a row lock on the customer:
  6.5 s of the 11.5 s the INSERT took. The statement takes every customer id from `customers`
  and the campaign id from the row it holds locked, and nothing in Pulse deletes either, so
  PostgreSQL drops the keys of `deliveries` and `campaign_holdouts`
  (`pulsecrm.models.audience_key` says why SQLite keeps them).
- The unique (campaign, customer) key turns round to (customer, campaign) and replaces the
  index on customer_id: one index fewer, the same guarantee.
- The vendor's message id stays unique, but only sent messages, which have one, are indexed.

On SQLite `deliveries` is rebuilt to change its unique constraints (env.py turns foreign keys
off for migrations there, so dropping the old table cascades to nothing).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01
"""

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

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
_SENT = sa.text("vendor_message_id IS NOT NULL")


@contextmanager
def _deliveries() -> Iterator[Any]:
    """Batch-alter `deliveries`, rebuilt on SQLite. Reflecting the tables it points at meets the
    customers' expression index, which SQLite's reflection skips with a warning; that index
    belongs to customers and is not rebuilt here."""
    recreate: Literal["always", "auto"] = "always" if op.get_bind().dialect.name == "sqlite" else "auto"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        with op.batch_alter_table("deliveries", recreate=recreate) as batch_op:
            yield batch_op


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, target in _KEYS:
            op.drop_constraint(op.f(f"fk_{table}_{column}_{target}"), table, type_="foreignkey")
    with _deliveries() as batch_op:
        batch_op.drop_constraint("uq_deliveries_campaign_id_customer_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_deliveries_customer_id_campaign_id", ["customer_id", "campaign_id"]
        )
        batch_op.drop_constraint("uq_deliveries_vendor_message_id", type_="unique")
    op.drop_index("ix_deliveries_customer_id", "deliveries")
    op.create_index(
        "uq_deliveries_vendor_message_id",
        "deliveries",
        ["vendor_message_id"],
        unique=True,
        postgresql_where=_SENT,
        sqlite_where=_SENT,
    )


def downgrade() -> None:
    op.drop_index("uq_deliveries_vendor_message_id", "deliveries")
    op.create_index("ix_deliveries_customer_id", "deliveries", ["customer_id"])
    with _deliveries() as batch_op:
        batch_op.create_unique_constraint("uq_deliveries_vendor_message_id", ["vendor_message_id"])
        batch_op.create_unique_constraint(
            "uq_deliveries_campaign_id_customer_id", ["campaign_id", "customer_id"]
        )
        batch_op.drop_constraint("uq_deliveries_customer_id_campaign_id", type_="unique")
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
