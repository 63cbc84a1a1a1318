"""Store-time days for per-day figures: where each local day starts in UTC, and a SQL bucket
that a GROUP BY can use so a day's count is exact on PostgreSQL and SQLite alike.

Neither database is asked to convert time zones (SQLite cannot). When the store's offset is
the same at every midnight of the span, a bucket is a whole local day (at most one row a
day); across a daylight-saving change it is a quarter of an hour, since every UTC offset in
use is a whole number of quarter hours, and Python adds the quarters up into days."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from pulsecrm.db import epoch_seconds

DAY = 86_400
QUARTER_HOUR = 900
T = TypeVar("T", int, Decimal)


@dataclass(frozen=True)
class Days:
    """The last `len(dates)` store-time days, today included."""

    dates: list[date]
    bounds: list[datetime]  # UTC; bounds[i] starts dates[i], bounds[-1] ends today
    width: int  # seconds per SQL bucket
    shift: int  # seconds added to UTC before bucketing

    @property
    def start(self) -> datetime:
        return self.bounds[0]

    @property
    def end(self) -> datetime:
        return self.bounds[-1]

    def bucket(self, column: Any, dialect: str) -> sa.ColumnElement[Any]:
        return sa.func.floor((epoch_seconds(column, dialect) + self.shift) / self.width)

    def index(self, bucket: Any) -> int | None:
        """The day a bucket value from `bucket()` falls in, or None outside the span."""
        at = datetime.fromtimestamp(int(bucket) * self.width - self.shift, UTC)
        i = bisect.bisect_right(self.bounds, at) - 1
        return i if 0 <= i < len(self.dates) else None


def last_days(n: int, *, now: datetime, zone: ZoneInfo) -> Days:
    today = now.astimezone(zone).date()
    dates = [today - timedelta(days=n - 1 - i) for i in range(n)]
    midnights = [datetime.combine(d, time(), tzinfo=zone) for d in [*dates, today + timedelta(days=1)]]
    bounds = [m.astimezone(UTC) for m in midnights]
    offsets = {m.utcoffset() for m in midnights}
    if len(offsets) == 1:
        offset = offsets.pop()
        shift = int(offset.total_seconds()) if offset is not None else 0
        return Days(dates, bounds, DAY, shift)
    return Days(dates, bounds, QUARTER_HOUR, 0)


def spread(days: Days, rows: Iterable[tuple[Any, T | None]], zero: T) -> list[T]:
    """Per-day sums of (bucket, value) rows; buckets outside the span are dropped."""
    out = [zero] * len(days.dates)
    for bucket, value in rows:
        i = days.index(bucket)
        if i is not None and value is not None:
            out[i] += value
    return out
