"""The demo data lives in the present: dated relative to the day it is made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pulsecrm import demo


def test_the_demo_is_dated_relative_to_today() -> None:
    for now in (datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 6, 15, 12, tzinfo=UTC)):
        people, orders = demo.generate(500, now=now)
        assert all(p.created_at is not None and p.created_at <= now for p in people)
        last_month = [o for o in orders if now - timedelta(days=30) <= o.ordered_at <= now]
        joined = [p for p in people if p.created_at and p.created_at >= now - timedelta(days=30)]
        assert len(last_month) > 20 and len(joined) > 5  # date segments match people on first use
        assert max(o.ordered_at for o in orders) <= now


def test_without_a_day_it_is_today() -> None:
    _, orders = demo.generate(300)
    assert datetime.now(UTC) - max(o.ordered_at for o in orders) < timedelta(days=7)
