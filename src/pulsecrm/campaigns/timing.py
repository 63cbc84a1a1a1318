"""When a campaign's messages go out: its scheduled launch, and each customer's best hour.

Best hour: the hour of day (store time) at which the customer most often ordered, ties to the
earlier hour; a customer without orders takes the audience's most common hour. Each delivery
gets the next start of its hour within 24 hours of the launch as its not-before time (the
current hour means now). Counted in one statement, the same on PostgreSQL and SQLite: the
order hours are grouped per customer in SQL (`ai.send_time`'s half-hour arithmetic, so
+05:30 lands in the right hour), and the 24 not-before times are computed here with the
zone's rules and handed to SQL as a CASE, so no database needs time zone data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from pulsecrm.ai import send_time
from pulsecrm.customers.models import Customer, Order
from pulsecrm.errors import InvalidInput

AnySelect = TypeVar("AnySelect", bound=sa.Select[*tuple[Any, ...]])


def check_future(scheduled_at: datetime | None, *, now: datetime) -> None:
    """A schedule must name a time still ahead (422 naming the field otherwise)."""
    if scheduled_at is not None and scheduled_at <= now:
        raise InvalidInput(
            "scheduled_at is in the past",
            details=[{"loc": ["body", "scheduled_at"], "message": "must be in the future"}],
        )


def hour_starts(now: datetime, zone: ZoneInfo) -> list[datetime]:
    """For each local hour 0-23, when a message planned for it goes out: the next start of that
    hour within 24 hours of `now` (UTC), or `now` itself for the current hour."""
    local = now.astimezone(zone)
    starts = []
    for hour in range(24):
        if hour == local.hour:
            starts.append(now)
            continue
        day = local.date() + timedelta(days=1 if hour < local.hour else 0)
        starts.append(datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC))
    return starts


@dataclass(frozen=True)
class Plan:
    """The pieces a launch statement joins in: `best` (a subquery of customer external id and
    hour) to outer-join on `Customer.external_id == best.c.ext`, and the expressions that
    give each customer's planned hour and its not-before time."""

    best: sa.Subquery
    hour: sa.ColumnElement[Any]
    not_before: sa.ColumnElement[Any]

    def joined(self, query: AnySelect) -> AnySelect:
        # The order counts are a WITH read twice (per customer, and for the audience), so the
        # databases compute them once; the statement then starts with WITH.
        return query.outerjoin(self.best, self.best.c.ext == Customer.external_id)


def best_hour_plan(
    where: sa.ColumnElement[bool], *, dialect: str, zone: ZoneInfo, now: datetime, type_: Any
) -> Plan:
    """Each customer of the audience `where` selects: their best hour and its not-before time."""
    hour = send_time.local_hour(dialect, zone, now)
    counts = (
        sa.select(Order.customer_external_id.label("ext"), hour.label("hour"), sa.func.count().label("n"))
        .join(Customer, Customer.external_id == Order.customer_external_id)
        .where(where)
        .group_by(Order.customer_external_id, hour)
        .cte("order_hours")
    )
    ranked = sa.select(
        counts.c.ext,
        counts.c.hour,
        sa.func.row_number()
        .over(partition_by=counts.c.ext, order_by=(counts.c.n.desc(), counts.c.hour))
        .label("rank"),
    ).subquery("ranked_hours")
    best = sa.select(ranked.c.ext, ranked.c.hour).where(ranked.c.rank == 1).subquery("best_hours")
    audience_hour = (
        sa.select(counts.c.hour)
        .group_by(counts.c.hour)
        .order_by(sa.func.sum(counts.c.n).desc(), counts.c.hour)
        .limit(1)
        .scalar_subquery()
    )
    planned = sa.func.coalesce(best.c.hour, audience_hour)
    starts = hour_starts(now, zone)
    not_before = sa.case(
        {h: sa.literal(at, type_) for h, at in enumerate(starts)}, value=planned, else_=sa.null()
    )
    return Plan(best=best, hour=planned, not_before=not_before)
