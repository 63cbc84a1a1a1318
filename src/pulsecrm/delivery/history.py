"""A customer's message history: every message of every campaign sent to them, newest first,
with what they did with it (opens, clicks, the orders credited to it), and the campaigns that
held them out as control.

One row per campaign: a customer has at most one message per campaign (deliveries are unique
per campaign and customer), and a customer held out has none. Pages follow the campaigns'
launch time, newest first, as keyset positions (pagination.apply_keyset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm.campaigns.models import Campaign
from pulsecrm.customers.models import Order
from pulsecrm.delivery.models import Delivery, EngagementEvent
from pulsecrm.outcomes.models import CampaignHoldout, OrderAttribution
from pulsecrm.pagination import SortKey, apply_keyset, page_of

CONTROL = "control"  # the status of an entry for a campaign that held the customer out
_NEWEST = SortKey(Campaign.launched_at, descending=True, kind=datetime)


@dataclass(frozen=True)
class CreditedOrder:
    external_id: str
    amount: Decimal
    currency: str
    ordered_at: datetime


@dataclass
class Message:
    campaign_id: int
    campaign_name: str
    channel: str
    launched_at: datetime | None
    status: str  # a delivery status, or "control"
    delivery_id: int | None = None
    sent_at: datetime | None = None
    opened_at: datetime | None = None
    clicked_at: datetime | None = None
    opens: int = 0
    clicks: int = 0
    orders: list[CreditedOrder] = field(default_factory=list)


async def messages_of(
    session: AsyncSession, customer_id: int, *, limit: int, cursor: str | None
) -> tuple[list[Message], str | None]:
    """A page of the customer's messages (and control-group memberships), newest first."""
    campaigns = sa.union_all(
        sa.select(Delivery.campaign_id).where(Delivery.customer_id == customer_id),
        sa.select(CampaignHoldout.campaign_id).where(CampaignHoldout.customer_id == customer_id),
    )
    query = (
        sa.select(
            Campaign.id,
            Campaign.name,
            Campaign.channel,
            Campaign.launched_at,
            Delivery.id,
            Delivery.status,
            Delivery.sent_at,
            Delivery.opened_at,
            Delivery.clicked_at,
        )
        .select_from(Campaign)
        .outerjoin(
            Delivery, sa.and_(Delivery.campaign_id == Campaign.id, Delivery.customer_id == customer_id)
        )
        .where(Campaign.id.in_(campaigns))
    )
    # apply_keyset takes any select; its annotation names the one-entity form
    query = apply_keyset(cast(sa.Select[Any], query), _NEWEST, Campaign.id, cursor).limit(limit + 1)
    rows = [
        Message(
            campaign_id=row[0],
            campaign_name=row[1],
            channel=row[2],
            launched_at=row[3],
            status=row[5] if row[4] is not None else CONTROL,
            delivery_id=row[4],
            sent_at=row[6],
            opened_at=row[7],
            clicked_at=row[8],
        )
        for row in (await session.execute(query)).all()
    ]
    page, next_cursor = page_of(rows, limit, lambda m: (m.launched_at, m.campaign_id))
    await _engagement(session, page)
    return page, next_cursor


async def _engagement(session: AsyncSession, page: list[Message]) -> None:
    """Fill in the page's open and click counts and credited orders: two queries per page."""
    by_delivery = {m.delivery_id: m for m in page if m.delivery_id is not None}
    if not by_delivery:
        return
    ids = sorted(by_delivery)
    counts = await session.execute(
        sa.select(EngagementEvent.delivery_id, EngagementEvent.kind, sa.func.count())
        .where(EngagementEvent.delivery_id.in_(ids))
        .group_by(EngagementEvent.delivery_id, EngagementEvent.kind)
    )
    for delivery_id, kind, n in counts:
        message = by_delivery[delivery_id]
        if kind == "opened":
            message.opens = int(n)
        else:
            message.clicks = int(n)
    orders = await session.execute(
        sa.select(
            OrderAttribution.delivery_id,
            Order.external_id,
            OrderAttribution.amount,
            Order.currency,
            OrderAttribution.ordered_at,
        )
        .join(Order, Order.id == OrderAttribution.order_id)
        .where(OrderAttribution.delivery_id.in_(ids))
        .order_by(OrderAttribution.ordered_at, OrderAttribution.order_id)
    )
    for delivery_id, external_id, amount, currency, ordered_at in orders:
        by_delivery[delivery_id].orders.append(CreditedOrder(external_id, amount, currency, ordered_at))
