"""When an audience orders: the hours of its customers' orders as a distribution, and the
three-hour window that holds most of them, suggested as the send time.

Counted in SQL by UTC half-hour (48 rows however many orders), then moved to the asked time
zone in Python, so offsets like +05:30 land in the right local hour. The offset is today's
(a daylight-saving change within the data shifts older orders by an hour). Clicks join the
distribution once campaigns record them. Best-hour sending (`campaigns.timing`) counts each
customer's hours with the same SQL (`local_hour`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm import formatting
from pulsecrm.customers.models import Customer, Order

WINDOW_HOURS = 3


@dataclass(frozen=True)
class SendTime:
    orders: int
    hours: list[int]  # orders by local hour of day, 0-23
    start_hour: int | None  # the suggested window starts here (local), None without orders
    share: float  # of all orders, in the window

    def sentence(self, zone: str) -> str:
        if self.start_hour is None:
            return "This audience has no orders yet, so there is no pattern to suggest a time from."
        end = (self.start_hour + WINDOW_HOURS) % 24
        orders = formatting.number(self.orders)  # grouped as the pages group it
        return (
            f"{round(self.share * 100)}% of this audience's {orders} orders were placed between "
            f"{self.start_hour:02d}:00 and {end:02d}:00 ({zone}): send at {self.start_hour:02d}:00."
        )


def next_start(hour: int, zone: ZoneInfo, now: datetime) -> datetime:
    """The next time it is `hour`:00 in `zone` after `now`: today's, or tomorrow's once passed.
    An hour that a daylight-saving change skips that day lands on the moment after the gap."""
    local = now.astimezone(zone)
    start = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if start <= local:
        start = (start.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=zone)
    # Through UTC and back, so a wall time that does not exist that day gets a real offset.
    return start.astimezone(UTC).astimezone(zone)


def utc_half_hour(dialect: str) -> sa.ColumnElement[int]:
    """An order's UTC half hour of the day, 0-47 (half hours, so +05:30 shifts exactly)."""
    if dialect == "postgresql":
        utc = sa.func.timezone("UTC", Order.ordered_at)
        hour: Any = sa.cast(sa.extract("hour", utc), sa.Integer)
        minute: Any = sa.cast(sa.extract("minute", utc), sa.Integer)
    else:  # SQLite keeps ISO text; strftime reads its offset and answers in UTC
        hour = sa.cast(sa.func.strftime("%H", Order.ordered_at), sa.Integer)
        minute = sa.cast(sa.func.strftime("%M", Order.ordered_at), sa.Integer)
    result: sa.ColumnElement[int] = hour * 2 + minute // 30
    return result


def half_hour_shift(zone: ZoneInfo, now: datetime) -> int:
    """`zone`'s offset from UTC today, in half hours."""
    offset = now.astimezone(zone).utcoffset()
    return round(offset.total_seconds() / 1800) if offset else 0


def local_hour(dialect: str, zone: ZoneInfo, now: datetime) -> sa.ColumnElement[int]:
    """An order's hour of the day in `zone`, 0-23, in SQL, with today's offset as above: from
    its Unix time, one function call per row (it runs over every order of an audience)."""
    if dialect == "postgresql":
        epoch: Any = sa.cast(sa.func.floor(sa.extract("epoch", Order.ordered_at)), sa.BigInteger)
    else:
        epoch = sa.cast(sa.func.strftime("%s", Order.ordered_at), sa.BigInteger)
    hours = (epoch + half_hour_shift(zone, now) * 1800) // 3600
    result: sa.ColumnElement[int] = (hours % 24 + 24) % 24  # an order before 1970 is negative
    return result


async def distribution(
    session: AsyncSession, where: sa.ColumnElement[bool], *, zone: ZoneInfo, now: datetime
) -> SendTime:
    """The local-hour distribution of the orders of the customers `where` selects."""
    rows = (
        sa.select(utc_half_hour(session.get_bind().dialect.name).label("slot"))
        .join(Customer, Customer.external_id == Order.customer_external_id)
        .where(where)
        .subquery()
    )
    counted = await session.execute(sa.select(rows.c.slot, sa.func.count()).group_by(rows.c.slot))
    shift = half_hour_shift(zone, now)
    hours = [0] * 24
    for slot, n in counted:
        hours[((int(slot) + shift) % 48) // 2] += int(n)
    total = sum(hours)
    if not total:
        return SendTime(0, hours, None, 0.0)
    windows = [sum(hours[(h + k) % 24] for k in range(WINDOW_HOURS)) for h in range(24)]
    best = max(range(24), key=lambda h: (windows[h], -h))
    return SendTime(total, hours, best, windows[best] / total)
