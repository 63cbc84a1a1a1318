"""Campaign and delivery tables. Counters live on the campaign row, so history costs the same
for ten messages and a million."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pulsecrm.db import JSONType, UTCDateTime
from pulsecrm.models import Base, BigId

CAMPAIGN_STATUSES = ("draft", "running", "paused", "completed", "cancelled")
DELIVERY_STATUSES = ("pending", "sent", "delivered", "failed", "unknown", "cancelled")


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
    unsubscribed_excluded: Mapped[int] = mapped_column(sa.Integer, default=0)
    pending: Mapped[int] = mapped_column(sa.Integer, default=0)
    sent: Mapped[int] = mapped_column(sa.Integer, default=0)
    delivered: Mapped[int] = mapped_column(sa.Integer, default=0)
    failed: Mapped[int] = mapped_column(sa.Integer, default=0)
    unknown: Mapped[int] = mapped_column(sa.Integer, default=0)
    cancelled: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    launched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.CheckConstraint(f"status IN {CAMPAIGN_STATUSES}", name="status"),
        sa.CheckConstraint("channel IN ('sms', 'email')", name="channel"),
    )


class Delivery(Base):
    """One message to one customer: unique per (campaign, customer), status only moves forward."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    # An attempt timed out: the vendor may have the message, so giving up means unknown, not failed.
    maybe_sent: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    vendor_message_id: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "customer_id"),
        sa.Index("ix_deliveries_campaign_id_status_id", "campaign_id", "status", "id"),
        sa.CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status"),
    )
