"""The outcomes domain's tables: the control groups, which message each order is credited
to, and the customers whose attribution must be looked at again."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from pulsecrm.customers.models import EXTERNAL_ID_LENGTH
from pulsecrm.db import Money, UTCDateTime
from pulsecrm.models import Base, BigId, audience_key


class CampaignHoldout(Base):
    """A customer of the campaign's reachable audience held out as control: sent nothing.

    Not a delivery (no message exists), so no sender can ever pick one up; `window_*` are the
    orders the customer placed within the campaign's window after launch."""

    __tablename__ = "campaign_holdouts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(BigId)
    customer_id: Mapped[int] = mapped_column(BigId)
    window_orders: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    window_revenue: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")

    __table_args__ = (
        audience_key("campaign_id", "campaigns.id"),
        audience_key("customer_id", "customers.id"),
        sa.UniqueConstraint("campaign_id", "customer_id"),
        sa.Index("ix_campaign_holdouts_customer_id", "customer_id"),
        # Room on each page for attribution's updates to stay there (HOT).
        {"postgresql_with": {"fillfactor": 80}},
    )


class OrderAttribution(Base):
    """The message an order is credited to (last touch); rewritten whenever its inputs change."""

    __tablename__ = "order_attributions"

    order_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    delivery_id: Mapped[int] = mapped_column(
        BigId, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int] = mapped_column(BigId)
    customer_external_id: Mapped[str] = mapped_column(sa.String(EXTERNAL_ID_LENGTH), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (sa.Index("ix_order_attributions_campaign_id_ordered_at", "campaign_id", "ordered_at"),)


class AttributionMark(Base):
    """A customer whose attribution may have changed for a reason the change feed does not
    carry: a message recorded as sent (or bounced) after an order it could be credited with."""

    __tablename__ = "attribution_marks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_external_id: Mapped[str] = mapped_column(sa.String(EXTERNAL_ID_LENGTH))
