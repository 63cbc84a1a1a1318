"""delivery as its own domain: consent, exclusions, pause reasons, shared rate buckets

Customers gain per-channel consent (state, when, source); campaigns count who launch left
out for want of consent or of an address, and say why they are paused; `rate_buckets` holds
the token buckets workers share when there is no Redis.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pulsecrm.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONSENT = "('opted_in', 'opted_out', 'unknown')"


def upgrade() -> None:
    # Plain ADD COLUMNs work on both databases; batch mode would rebuild tables on SQLite.
    for channel in ("email", "sms"):
        op.add_column(
            "customers",
            sa.Column(f"{channel}_consent", sa.String(10), server_default="unknown", nullable=False),
        )
        op.add_column("customers", sa.Column(f"{channel}_consent_at", pulsecrm.db.UTCDateTime(timezone=True)))
        op.add_column("customers", sa.Column(f"{channel}_consent_source", sa.String(100)))
    if op.get_bind().dialect.name != "sqlite":
        # SQLite adds a CHECK only by rebuilding the table (and its expression index); there the
        # API's validation is the guard.
        for channel in ("email", "sms"):
            op.create_check_constraint(f"{channel}_consent", "customers", f"{channel}_consent IN {_CONSENT}")
    for name in ("no_consent_excluded", "unreachable_excluded"):
        op.add_column("campaigns", sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "campaigns",
        sa.Column("awaits_receipts", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column("campaigns", sa.Column("pause_reason", sa.String(300)))
    op.add_column("campaigns", sa.Column("paused_at", pulsecrm.db.UTCDateTime(timezone=True)))
    op.add_column(
        "campaigns",
        sa.Column("paused_by_policy", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "rate_buckets",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    with op.batch_alter_table("campaigns") as batch_op:
        for name in (
            "paused_by_policy",
            "paused_at",
            "pause_reason",
            "unreachable_excluded",
            "no_consent_excluded",
        ):
            batch_op.drop_column(name)
    if op.get_bind().dialect.name != "sqlite":
        for channel in ("email", "sms"):
            op.drop_constraint(f"ck_customers_{channel}_consent", "customers", type_="check")
    with op.batch_alter_table("customers") as batch_op:
        for channel in ("email", "sms"):
            for suffix in ("consent", "consent_at", "consent_source"):
                batch_op.drop_column(f"{channel}_{suffix}")
