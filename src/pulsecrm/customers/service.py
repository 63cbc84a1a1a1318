"""Customer reads: listing with search, sort and cursors; one customer with recent orders."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm.customers import repository
from pulsecrm.customers.consent import ChannelName
from pulsecrm.customers.models import Customer, Order
from pulsecrm.days import Days, spread
from pulsecrm.db import utcnow
from pulsecrm.errors import NotFound
from pulsecrm.pagination import SortKey, apply_keyset, page_of

CHANNELS: tuple[ChannelName, ...] = ("email", "sms")

CustomerSort = Literal[
    "-created_at",
    "created_at",
    "-total_spend",
    "total_spend",
    "-last_order_at",
    "last_order_at",
    "-order_count",
    "name",
]
_SORTS: dict[str, SortKey] = {
    "created_at": SortKey(Customer.created_at, False, datetime),
    "-created_at": SortKey(Customer.created_at, True, datetime),
    "total_spend": SortKey(Customer.total_spend, False, Decimal),
    "-total_spend": SortKey(Customer.total_spend, True, Decimal),
    "last_order_at": SortKey(Customer.last_order_at, False, datetime),
    "-last_order_at": SortKey(Customer.last_order_at, True, datetime),
    "-order_count": SortKey(Customer.order_count, True, int),
    "name": SortKey(Customer.name, False, str),
}
_SORT_ATTR = {key: key.lstrip("-") for key in _SORTS}


def _matching(q: str | None, where: sa.ColumnElement[bool] | None) -> list[sa.ColumnElement[bool]]:
    """The list's conditions: a search and an audience filter (compiled segment rules)."""
    conditions = [] if where is None else [where]
    if q:
        conditions.append(
            sa.or_(
                Customer.name.icontains(q, autoescape=True),
                Customer.email.icontains(q, autoescape=True),
                Customer.external_id == q,
            )
        )
    return conditions


async def list_customers(
    session: AsyncSession,
    *,
    q: str | None,
    sort: CustomerSort,
    limit: int,
    cursor: str | None,
    where: sa.ColumnElement[bool] | None = None,
) -> tuple[list[Customer], str | None]:
    query = sa.select(Customer).where(*_matching(q, where))
    query = apply_keyset(query, _SORTS[sort], Customer.id, cursor).limit(limit + 1)
    rows = list(await session.scalars(query))
    attr = _SORT_ATTR[sort]
    return page_of(rows, limit, lambda c: (getattr(c, attr), c.id))


async def count_customers(
    session: AsyncSession, *, q: str | None, where: sa.ColumnElement[bool] | None = None
) -> int:
    """How many customers the list shows in all, across its pages."""
    query = sa.select(sa.func.count()).select_from(Customer).where(*_matching(q, where))
    return int(await session.scalar(query) or 0)


async def customers_by_id(
    session: AsyncSession,
    *,
    q: str | None,
    where: sa.ColumnElement[bool] | None,
    after_id: int,
    limit: int,
) -> list[Customer]:
    """The next `limit` matching customers after `after_id`, by id: an export's pages."""
    query = (
        sa.select(Customer)
        .where(*_matching(q, where), Customer.id > after_id)
        .order_by(Customer.id)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def get_customer(session: AsyncSession, external_id: str) -> tuple[Customer, list[Order]]:
    customer = await repository.get_customer(session, external_id)
    if customer is None:
        raise NotFound(f"no customer with external_id {external_id!r}")
    return customer, await repository.recent_orders(session, external_id, limit=10)


def _set_consent(customer: Customer, channel: ChannelName, status: str, source: str, at: datetime) -> None:
    # A person's word now is the newest statement there is; stating the same again keeps the
    # original time and source.
    if getattr(customer, f"{channel}_consent") == status and getattr(customer, f"{channel}_consent_at"):
        return
    setattr(customer, f"{channel}_consent", status)
    setattr(customer, f"{channel}_consent_at", at)
    setattr(customer, f"{channel}_consent_source", source)


async def get(session: AsyncSession, external_id: str) -> Customer:
    """The customer, or 404."""
    return await _customer(session, external_id)


async def _customer(session: AsyncSession, external_id: str) -> Customer:
    customer = await repository.get_customer(session, external_id)
    if customer is None:
        raise NotFound(f"no customer with external_id {external_id!r}")
    return customer


async def unsubscribe(
    session: AsyncSession,
    external_id: str,
    *,
    channel: ChannelName | None = None,
    source: str = "unsubscribe",
) -> Customer:
    """Opt a customer out of one channel, or (no channel) out of everything: unsubscribed (the
    first time is kept; no launch includes them) and opted out of every channel."""
    return await unsubscribe_customer(
        session, await _customer(session, external_id), channel=channel, source=source
    )


async def unsubscribe_customer(
    session: AsyncSession, customer: Customer, *, channel: ChannelName | None, source: str
) -> Customer:
    now = utcnow()
    if channel is None and customer.unsubscribed_at is None:
        customer.unsubscribed_at = now
    for each in (channel,) if channel else CHANNELS:
        _set_consent(customer, each, "opted_out", source, now)
    await session.flush()
    return customer


async def set_consent(
    session: AsyncSession, external_id: str, consent: Mapping[ChannelName, str], *, source: str
) -> Customer:
    """Set consent for the channels given, as of now (an explicit unsubscribe stays in force)."""
    customer = await _customer(session, external_id)
    now = utcnow()
    for channel, status in consent.items():
        _set_consent(customer, channel, status, source, now)
    await session.flush()
    return customer


async def customer_by_id(session: AsyncSession, customer_id: int) -> Customer | None:
    return await session.get(Customer, customer_id)


async def list_orders(
    session: AsyncSession, *, customer: str | None, limit: int, cursor: str | None
) -> tuple[list[Order], str | None]:
    query = sa.select(Order)
    if customer is not None:
        query = query.where(Order.customer_external_id == customer)
    key = SortKey(Order.ordered_at, True, datetime)
    query = apply_keyset(query, key, Order.id, cursor).limit(limit + 1)
    rows = list(await session.scalars(query))
    return page_of(rows, limit, lambda o: (o.ordered_at, o.id))


async def totals(session: AsyncSession) -> tuple[int, int, Decimal]:
    """(customers, orders, revenue), from the stored aggregates: one scan of customers."""
    row = (
        await session.execute(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(Customer.order_count), 0),
                sa.func.sum(Customer.total_spend),
            ).select_from(Customer)
        )
    ).one()
    return int(row[0]), int(row[1]), Decimal(row[2] or 0)


# --- the dashboard's trends ---------------------------------------------------------------------


async def orders_per_day(session: AsyncSession, days: Days) -> tuple[list[int], list[Decimal]]:
    """Orders placed on each store-time day and their total: a range read of the
    (ordered_at, amount) index, grouped in the database (at most one row a bucket)."""
    bucket = days.bucket(Order.ordered_at, session.get_bind().dialect.name)
    rows = (
        await session.execute(
            sa.select(bucket, sa.func.count(), sa.func.sum(Order.amount))
            .where(Order.ordered_at >= days.start, Order.ordered_at < days.end)
            .group_by(bucket)
        )
    ).all()
    counts = spread(days, [(b, int(n)) for b, n, _ in rows], 0)
    totals = spread(days, [(b, Decimal(str(total or 0))) for b, _, total in rows], Decimal(0))
    return counts, totals


async def new_customers_per_day(session: AsyncSession, days: Days) -> list[int]:
    """Customers who signed up on each store-time day, off ix_customers_created_at."""
    bucket = days.bucket(Customer.created_at, session.get_bind().dialect.name)
    rows = await session.execute(
        sa.select(bucket, sa.func.count())
        .where(Customer.created_at >= days.start, Customer.created_at < days.end)
        .group_by(bucket)
    )
    return spread(days, [(b, int(n)) for b, n in rows], 0)
