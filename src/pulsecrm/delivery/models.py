"""The delivery domain's tables: one row per message, receipts that came early, shared rate buckets."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pulsecrm.db import UTCDateTime
from pulsecrm.models import Base, BigId

DELIVERY_STATUSES = ("pending", "sent", "delivered", "failed", "unknown", "cancelled")


class Delivery(Base):
    """One message to one customer: unique per (campaign, customer); its status moves only
    through `pulsecrm.delivery.machine`."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    # An attempt may have reached the transport: giving up then means unknown, not failed, and
    # a channel without idempotency keys never sends it again.
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


class ParkedReceipt(Base):
    """A receipt that arrived before its message was recorded as sent, kept until it is."""

    __tablename__ = "parked_receipts"

    message_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(12))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RateBucket(Base):
    """A token bucket shared by every worker when there is no Redis (`delivery.ratelimit`)."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    tokens: Mapped[float] = mapped_column(sa.Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
