"""outcomes: engagement, tracked links, holdouts and exact attribution

Deliveries gain first-open and first-click times and the orders attributed to them (last
touch) or placed within the campaign's window (for lift); `engagement_events` keeps every
open and click; `tracked_links` the URLs a campaign's messages link to; `campaign_holdouts`
the control group, sent nothing; `order_attributions` which message each order is credited
to; `attribution_marks` and `feed_cursors` drive the catch-up pass. Campaigns gain the
holdout share, the attribution window and their outcome counters. A parked receipt is now
kept per message and status, so an early open does not overwrite an early delivery.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import pulsecrm.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COUNTERS = (
    "control",
    "opened",
    "clicked",
    "converted",
    "orders",
    "treatment_converted",
    "treatment_orders",
    "control_converted",
    "control_orders",
)
_MINOR = ("revenue_minor", "treatment_revenue_minor", "control_revenue_minor")


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("holdout_percent", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "campaigns", sa.Column("attribution_days", sa.Integer(), server_default="5", nullable=False)
    )
    op.add_column(
        "campaigns", sa.Column("attribution_seeded", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    for name in _COUNTERS:
        op.add_column("campaigns", sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    for name in _MINOR:
        op.add_column("campaigns", sa.Column(name, sa.BigInteger(), server_default="0", nullable=False))

    op.add_column("deliveries", sa.Column("opened_at", pulsecrm.db.UTCDateTime(timezone=True)))
    op.add_column("deliveries", sa.Column("clicked_at", pulsecrm.db.UTCDateTime(timezone=True)))
    for name in ("attributed_orders", "window_orders"):
        op.add_column("deliveries", sa.Column(name, sa.Integer(), server_default="0", nullable=False))
    for name in ("attributed_revenue", "window_revenue"):
        op.add_column("deliveries", sa.Column(name, pulsecrm.db.Money(), server_default="0", nullable=False))
    # A customer's messages: attribution reads them per customer, and the customer page lists them.
    op.create_index("ix_deliveries_customer_id", "deliveries", ["customer_id"])

    op.create_table(
        "campaign_holdouts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("window_orders", sa.Integer(), server_default="0", nullable=False),
        sa.Column("window_revenue", pulsecrm.db.Money(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_holdouts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_campaign_holdouts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_holdouts")),
        sa.UniqueConstraint(
            "campaign_id", "customer_id", name=op.f("uq_campaign_holdouts_campaign_id_customer_id")
        ),
    )
    op.create_index("ix_campaign_holdouts_customer_id", "campaign_holdouts", ["customer_id"])

    op.create_table(
        "tracked_links",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("url_hash", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_tracked_links_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracked_links")),
        sa.UniqueConstraint("campaign_id", "url_hash", name=op.f("uq_tracked_links_campaign_id_url_hash")),
    )

    op.create_table(
        "engagement_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("delivery_id", BigId, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("link_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("occurred_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_engagement_events_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_engagement_events_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("kind IN ('opened', 'clicked')", name=op.f("ck_engagement_events_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_events")),
        sa.UniqueConstraint(
            "delivery_id",
            "kind",
            "link_id",
            "occurred_at",
            name=op.f("uq_engagement_events_delivery_id_kind_link_id_occurred_at"),
        ),
    )
    op.create_index(
        "ix_engagement_events_campaign_id_occurred_at", "engagement_events", ["campaign_id", "occurred_at"]
    )

    op.create_table(
        "order_attributions",
        sa.Column("order_id", BigId, nullable=False),
        sa.Column("delivery_id", BigId, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("customer_external_id", sa.String(128), nullable=False),
        sa.Column("amount", pulsecrm.db.Money(), nullable=False),
        sa.Column("ordered_at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_attributions_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_order_attributions_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_attributions")),
    )
    op.create_index("ix_order_attributions_delivery_id", "order_attributions", ["delivery_id"])
    op.create_index(
        "ix_order_attributions_customer_external_id", "order_attributions", ["customer_external_id"]
    )
    op.create_index(
        "ix_order_attributions_campaign_id_ordered_at", "order_attributions", ["campaign_id", "ordered_at"]
    )

    op.create_table(
        "attribution_marks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("customer_external_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribution_marks")),
    )
    op.create_table(
        "feed_cursors",
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", pulsecrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_feed_cursors")),
    )

    # Parked receipts: one per message and status (an open may come early as well as a delivery).
    with op.batch_alter_table("parked_receipts", recreate="always") as batch_op:
        batch_op.drop_constraint("pk_parked_receipts", type_="primary")
        batch_op.create_primary_key("pk_parked_receipts", ["message_id", "status"])


def downgrade() -> None:
    op.execute("DELETE FROM parked_receipts WHERE status IN ('opened', 'clicked')")
    with op.batch_alter_table("parked_receipts", recreate="always") as batch_op:
        batch_op.drop_constraint("pk_parked_receipts", type_="primary")
        batch_op.create_primary_key("pk_parked_receipts", ["message_id"])
    for table in (
        "feed_cursors",
        "attribution_marks",
        "order_attributions",
        "engagement_events",
        "tracked_links",
    ):
        op.drop_table(table)
    op.drop_table("campaign_holdouts")
    op.drop_index("ix_deliveries_customer_id", "deliveries")
    with op.batch_alter_table("deliveries") as batch_op:
        for name in (
            "window_revenue",
            "attributed_revenue",
            "window_orders",
            "attributed_orders",
            "clicked_at",
            "opened_at",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("campaigns") as batch_op:
        for name in (*_MINOR, *_COUNTERS, "attribution_seeded", "attribution_days", "holdout_percent"):
            batch_op.drop_column(name)
