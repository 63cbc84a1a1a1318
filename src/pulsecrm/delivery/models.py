"""The delivery domain's tables: one row per message, receipts that came early, shared rate buckets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pulsecrm.db import Money, UTCDateTime
from pulsecrm.models import Base, BigId, audience_key

DELIVERY_STATUSES = ("pending", "sent", "delivered", "failed", "unknown", "cancelled", "capped")
_TIMED = "status = 'pending' AND next_attempt_at IS NOT NULL"  # the rows of the due-time index


class Delivery(Base):
    """One message to one customer: unique per (campaign, customer); its status moves only
    through `pulsecrm.delivery.machine`."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(BigId)
    customer_id: Mapped[int] = mapped_column(BigId)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    # An attempt may have reached the transport: giving up then means unknown, not failed, and
    # a channel without idempotency keys never sends it again.
    maybe_sent: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    vendor_message_id: Mapped[str | None] = mapped_column(sa.String(100))
    error: Mapped[str | None] = mapped_column(sa.String(500))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Engagement is a mark beside the status, never a status: the first open and first click
    # (a click counts as an open too), set once; the events themselves are in engagement_events.
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written only by `outcomes.attribution`: orders credited to this message (last touch), and
    # orders placed within the campaign's window after launch whatever the message did (for lift).
    attributed_orders: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    attributed_revenue: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    window_orders: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    window_revenue: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    # Which of the campaign's message variants this customer gets (None: no variants, or not
    # decided until the test picks a winner).
    variant: Mapped[int | None] = mapped_column(sa.SmallInteger)

    # A launch writes a row per audience member: each index here is written a million times for
    # a 1M audience, so there are as few as the reads need (docs/campaigns.md, "Launch cost").
    __table_args__ = (
        audience_key("campaign_id", "campaigns.id"),
        audience_key("customer_id", "customers.id"),
        # At most one message per customer per campaign. Customer first, so it is also the
        # index of a customer's messages (history, frequency cap, attribution); a campaign's
        # are found through the next one.
        sa.UniqueConstraint("customer_id", "campaign_id"),
        sa.Index("ix_deliveries_campaign_id_status_id", "campaign_id", "status", "id"),
        # The claim's due test: a best-hour campaign holds a day of messages not due yet, which
        # the claim must not read one by one on every pass. Only pending messages with a time
        # are in it: a launch's fresh ones (NULL, due at once) are claimed through the index
        # above, so a 1M launch writes no entry here (migration 0025).
        sa.Index(
            "ix_deliveries_pending_next_attempt_at",
            "campaign_id",
            "next_attempt_at",
            postgresql_where=sa.text(_TIMED),
            sqlite_where=sa.text(_TIMED),
        ),
        # Receipts find their message by the vendor's id. Unsent messages have none and stay out
        # of the index, so a launch writes nothing here.
        sa.Index(
            "uq_deliveries_vendor_message_id",
            "vendor_message_id",
            unique=True,
            postgresql_where=sa.text("vendor_message_id IS NOT NULL"),
            sqlite_where=sa.text("vendor_message_id IS NOT NULL"),
        ),
        sa.CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status"),
        # Room on each page for attribution's updates (no indexed column) to stay there (HOT).
        {"postgresql_with": {"fillfactor": 80}},
    )


class ParkedReceipt(Base):
    """A receipt that arrived before its message was recorded as sent, kept until it is: one per
    message and status, so an early open does not hide an early delivery."""

    __tablename__ = "parked_receipts"

    message_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class RateBucket(Base):
    """A token bucket shared by every worker when there is no Redis (`delivery.ratelimit`)."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    tokens: Mapped[float] = mapped_column(sa.Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


ENGAGEMENT_KINDS = ("opened", "clicked")


class EngagementEvent(Base):
    """Every open and click, from the vendor's receipts or our own tracked links and pixel.

    The unique key makes a redelivered event a no-op; `link_id` is 0 for opens."""

    __tablename__ = "engagement_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("deliveries.id", ondelete="CASCADE"))
    campaign_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(8))
    link_id: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("delivery_id", "kind", "link_id", "occurred_at"),
        sa.Index("ix_engagement_events_campaign_id_occurred_at", "campaign_id", "occurred_at"),
        sa.CheckConstraint(f"kind IN {ENGAGEMENT_KINDS}", name="kind"),
    )


class TrackedLink(Base):
    """A URL some message of the campaign links to; tracked links name it by id."""

    __tablename__ = "tracked_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("campaigns.id", ondelete="CASCADE"))
    url_hash: Mapped[str] = mapped_column(sa.String(64))  # sha256 hex: URLs are too long to index
    url: Mapped[str] = mapped_column(sa.Text)

    __table_args__ = (sa.UniqueConstraint("campaign_id", "url_hash"),)
