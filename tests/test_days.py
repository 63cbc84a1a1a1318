"""Store-time days: their UTC bounds, and buckets that add up to whole local days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from pulsecrm import days


def test_a_half_hour_zone_buckets_whole_local_days() -> None:
    now = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)  # already 2 Dec in Kolkata
    window = days.last_days(3, now=now, zone=ZoneInfo("Asia/Kolkata"))
    assert window.dates == [date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2)]
    assert window.start == datetime(2026, 11, 29, 18, 30, tzinfo=UTC)
    assert window.end == datetime(2026, 12, 2, 18, 30, tzinfo=UTC)
    assert window.width == days.DAY  # one bucket a day: the offset never changes there

    def day_of(at: datetime) -> int | None:
        return window.index((at.timestamp() + window.shift) // window.width)

    assert day_of(datetime(2026, 11, 30, 18, 29, tzinfo=UTC)) == 0  # 23:59 on 30 Nov, store time
    assert day_of(datetime(2026, 11, 30, 18, 30, tzinfo=UTC)) == 1  # 00:00 on 1 Dec
    assert day_of(datetime(2026, 11, 29, 18, 29, tzinfo=UTC)) is None  # before the span


def test_a_daylight_saving_change_falls_back_to_quarter_hours() -> None:
    # London leaves summer time on 25 Oct 2026: that day has 25 hours.
    now = datetime(2026, 10, 26, 12, tzinfo=UTC)
    window = days.last_days(3, now=now, zone=ZoneInfo("Europe/London"))
    assert window.width == days.QUARTER_HOUR
    assert window.bounds[1] == datetime(2026, 10, 24, 23, tzinfo=UTC)  # BST midnight
    assert window.bounds[2] == datetime(2026, 10, 26, 0, tzinfo=UTC)  # GMT midnight
    late = datetime(2026, 10, 25, 23, 50, tzinfo=UTC)  # 23:50 on the 25th, GMT
    assert window.index(late.timestamp() // window.width) == 1
    rows = [(late.timestamp() // 900, 2), (datetime(2026, 10, 24, 23, 5, tzinfo=UTC).timestamp() // 900, 3)]
    assert days.spread(window, rows, 0) == [0, 5, 0]
