"""Customer reads: listing with search, sort and cursors; one customer with recent orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm.customers import repository
from pulsecrm.customers.models import Customer, Order
from pulsecrm.db import utcnow
from pulsecrm.errors import NotFound
from pulsecrm.pagination import SortKey, apply_keyset, page_of

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


async def list_customers(
    session: AsyncSession, *, q: str | None, sort: CustomerSort, limit: int, cursor: str | None
) -> tuple[list[Customer], str | None]:
    query = sa.select(Customer)
    if q:
        query = query.where(
            sa.or_(
                Customer.name.icontains(q, autoescape=True),
                Customer.email.icontains(q, autoescape=True),
                Customer.external_id == q,
            )
        )
    query = apply_keyset(query, _SORTS[sort], Customer.id, cursor).limit(limit + 1)
    rows = list(await session.scalars(query))
    attr = _SORT_ATTR[sort]
    return page_of(rows, limit, lambda c: (getattr(c, attr), c.id))


async def get_customer(session: AsyncSession, external_id: str) -> tuple[Customer, list[Order]]:
    customer = await repository.get_customer(session, external_id)
    if customer is None:
        raise NotFound(f"no customer with external_id {external_id!r}")
    return customer, await repository.recent_orders(session, external_id, limit=10)


async def unsubscribe(session: AsyncSession, external_id: str) -> Customer:
    """Mark a customer unsubscribed (idempotent: the first time is kept). No launch includes them."""
    customer = await repository.get_customer(session, external_id)
    if customer is None:
        raise NotFound(f"no customer with external_id {external_id!r}")
    if customer.unsubscribed_at is None:
        customer.unsubscribed_at = utcnow()
        await session.flush()
    return customer


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
