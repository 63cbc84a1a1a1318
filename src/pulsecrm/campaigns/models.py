"""The campaigns table (deliveries belong to `pulsecrm.delivery`). Counters live on the campaign
row, so history costs the same for ten messages and a million."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pulsecrm.db import JSONType, UTCDateTime
from pulsecrm.models import Base, BigId

CAMPAIGN_STATUSES = ("draft", "scheduled", "running", "paused", "completed", "cancelled")
# When each message may go out: at once, or at its customer's best hour within a day.
SEND_AT = ("now", "best_hour")


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default="draft")
    channel: Mapped[str] = mapped_column(sa.String(10))
    subject: Mapped[str | None] = mapped_column(sa.String(300))
    message: Mapped[str] = mapped_column(sa.Text)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONType)  # frozen copy, even from a segment
    segment_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("segments.id", ondelete="SET NULL"))
    rate_limit: Mapped[int | None] = mapped_column(sa.Integer)  # messages per second
    audience: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Left out at launch, each counted once, in this order of precedence.
    unsubscribed_excluded: Mapped[int] = mapped_column(sa.Integer, default=0)
    no_consent_excluded: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    unreachable_excluded: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    pending: Mapped[int] = mapped_column(sa.Integer, default=0)
    sent: Mapped[int] = mapped_column(sa.Integer, default=0)
    delivered: Mapped[int] = mapped_column(sa.Integer, default=0)
    failed: Mapped[int] = mapped_column(sa.Integer, default=0)
    unknown: Mapped[int] = mapped_column(sa.Integer, default=0)
    cancelled: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Left out at send time by the store's frequency cap (a delivery status, like the above).
    capped: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A launch before this time arms the campaign (`scheduled`); the dispatcher fires it then.
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    send_at: Mapped[str] = mapped_column(sa.String(10), default="now", server_default="now")
    # Whether its channel sends receipts: without them `sent` is final (SMTP), and the campaign
    # completes when nothing is pending.
    awaits_receipts: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    # Why a campaign is paused, and since when: a person ("paused by you") or the error policy
    # ("vendor unreachable: ConnectError"); cleared on resume.
    pause_reason: Mapped[str | None] = mapped_column(sa.String(300))
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_by_policy: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Auto-tags (ai.tags), editable: comma-separated from a fixed vocabulary, so one LIKE
    # filters the history the same way on PostgreSQL and SQLite.
    tags: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    # Outcomes: a share of the reachable audience held out as control (sent nothing), and how
    # many days after a message an order still counts for it.
    holdout_percent: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    attribution_days: Mapped[int] = mapped_column(sa.Integer, default=5, server_default="5")
    # Whether the attribution pass has looked for orders already placed after the launch.
    attribution_seeded: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    control: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    # Unique opens and clicks (customers), moved with the delivery counters.
    opened: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    clicked: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    # Last-touch attribution: customers with an order credited to this campaign, those orders,
    # their revenue in minor units (counters are integers; money is exact that way).
    converted: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    orders: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    revenue_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    # Everything each group bought within attribution_days of the launch, for the lift.
    treatment_converted: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    treatment_orders: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    treatment_revenue_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    control_converted: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    control_orders: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    control_revenue_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    # A/B: 2-5 message variants ([{"message", "subject"}]; `message` above is the first one's).
    # Without a test share they split the audience evenly; with one, that share is split
    # evenly, and after `variant_test_hours` the variant with the best `variant_metric` rate
    # goes to the rest (`winner`, and why).
    variants: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    variant_test_percent: Mapped[int | None] = mapped_column(sa.Integer)
    variant_test_hours: Mapped[int | None] = mapped_column(sa.Integer)
    variant_metric: Mapped[str | None] = mapped_column(sa.String(10))
    winner: Mapped[int | None] = mapped_column(sa.Integer)
    winner_reason: Mapped[str | None] = mapped_column(sa.String(500))
    winner_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.CheckConstraint(f"status IN {CAMPAIGN_STATUSES}", name="status"),
        sa.CheckConstraint("channel IN ('sms', 'email')", name="channel"),
        sa.CheckConstraint(f"send_at IN {SEND_AT}", name="send_at"),
        # The scheduler's one query: scheduled campaigns by due time.
        sa.Index("ix_campaigns_status_scheduled_at", "status", "scheduled_at"),
    )
