"""AI services: pick the engine from settings, and summarise an audience for the message engine."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm.ai.base import Engine
from pulsecrm.ai.composer import AudienceSummary
from pulsecrm.ai.model import ModelEngine
from pulsecrm.ai.offline import OfflineEngine
from pulsecrm.config import Settings
from pulsecrm.customers.models import Customer
from pulsecrm.db import utcnow
from pulsecrm.errors import InvalidInput
from pulsecrm.segments import service as segment_service
from pulsecrm.segments.catalog import Catalog, SpendDistribution, percentile

LAPSED_DAYS = 90


def engine_for(settings: Settings) -> Engine:
    """The model engine when an endpoint and a model are configured, else the offline one."""
    if settings.ai_base_url and settings.ai_model:
        return ModelEngine(
            base_url=settings.ai_base_url,
            model=settings.ai_model,
            api_key=settings.ai_api_key.get_secret_value() if settings.ai_api_key else None,
            timeout=settings.ai_timeout_seconds,
        )
    return OfflineEngine()


async def spend_distribution(session: AsyncSession, also: frozenset[int] = frozenset()) -> SpendDistribution:
    """Total spend's 10th and 90th percentiles over all customers now, for "big spenders", and
    any other whole percentiles in `also` (a prompt's "top 20%" or "median").

    Linear interpolation between the two neighbouring ranks (PostgreSQL's percentile_cont),
    read with ORDER BY … OFFSET so PostgreSQL and SQLite answer alike: one small query each."""
    customers = int(await session.scalar(sa.select(sa.func.count()).select_from(Customer)) or 0)
    if customers == 0:
        return SpendDistribution(0, Decimal(0), Decimal(0))
    bounds: dict[int, Decimal] = {}
    for q in sorted({10, 90} | {q for q in also if 0 < q < 100}):
        position = Decimal(q) / 100 * (customers - 1)
        rows = await session.scalars(
            sa.select(Customer.total_spend).order_by(Customer.total_spend).offset(int(position)).limit(2)
        )
        bounds[q] = percentile([Decimal(v) for v in rows], float(position - int(position)))
    more = {q: v for q, v in bounds.items() if q not in (10, 90)}
    return SpendDistribution(customers, bounds[10], bounds[90], more)


async def audience_rules(session: AsyncSession, *, raw_rules: Any, segment_id: int | None) -> Any:
    """The audience of a message request: rules, a saved segment's rules, or everyone."""
    if raw_rules is not None and segment_id is not None:
        raise InvalidInput(
            "give the audience as `rules` or as `segment_id`, not both",
            details=[
                {"loc": ["body", "rules"], "path": "$.rules", "message": "at most one of rules, segment_id"}
            ],
        )
    if segment_id is not None:
        return (await segment_service.get(session, segment_id)).rules
    return raw_rules if raw_rules is not None else {"op": "and", "rules": []}


async def audience_summary(
    session: AsyncSession, raw_rules: Any, catalog: Catalog, *, now: datetime | None = None
) -> tuple[AudienceSummary, sa.ColumnElement[bool]]:
    """Size, typical spend, recency and the commonest city of an audience, in set-based SQL
    (four aggregate queries however large the audience). Also returns the audience's filter."""
    now = now or utcnow()
    _, where = await segment_service.audience_filter(session, raw_rules, catalog, now=now)
    c = Customer
    cutoff = now - timedelta(days=LAPSED_DAYS)
    lapsed = sa.case((sa.or_(c.last_order_at.is_(None), c.last_order_at < cutoff), 1), else_=0)
    size, with_orders, total, lapsed_count = (
        await session.execute(
            sa.select(
                sa.func.count(),
                sa.func.count(c.last_order_at),
                # sum in the column's own type: exact (cents on SQLite, NUMERIC on PostgreSQL)
                sa.func.sum(c.total_spend, type_=c.total_spend.type),
                sa.func.sum(lapsed),
            ).where(where)
        )
    ).one()
    size, with_orders = int(size or 0), int(with_orders or 0)
    if not size:
        return AudienceSummary(size=0), where
    median_spend = await _median(session, c.total_spend, where, size)
    last_order = await _median(
        session, c.last_order_at, sa.and_(where, c.last_order_at.is_not(None)), with_orders
    )
    top_city = await session.scalar(
        sa.select(c.city)
        .where(where, c.city.is_not(None))
        .group_by(c.city)
        .order_by(sa.func.count().desc(), c.city)
        .limit(1)
    )
    return (
        AudienceSummary(
            size=size,
            with_orders=with_orders,
            median_spend=_money(median_spend),
            avg_spend=_money(Decimal(total or 0) / size),
            median_days_since_order=(now - last_order).days if isinstance(last_order, datetime) else None,
            lapsed_share=round(int(lapsed_count or 0) / size, 4),
            top_city=top_city,
        ),
        where,
    )


async def _median(session: AsyncSession, column: Any, where: sa.ColumnElement[bool], n: int) -> Any:
    if n == 0:
        return None
    if session.get_bind().dialect.name == "postgresql":
        # percentile_disc returns a value of the column's own type (an amount, a timestamp).
        return await session.scalar(sa.select(sa.func.percentile_disc(0.5).within_group(column)).where(where))
    return await session.scalar(sa.select(column).where(where).order_by(column).offset((n - 1) // 2).limit(1))


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))
