"""The timeline's chart geometry: round ticks, time labels a person reads, the empty state."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from pulsecrm.outcomes.schemas import TimelineBucket, TimelineOut
from pulsecrm.web import charts


def _timeline(n: int, seconds: int, **values: int) -> TimelineOut:
    start = datetime(2026, 11, 30, 20, tzinfo=UTC)
    buckets = [
        TimelineBucket(
            starts=start + timedelta(seconds=seconds * i),
            sent=values.get("sent", 0),
            opened=values.get("opened", 0),
            clicked=0,
            orders=values.get("orders", 0),
            revenue=str(values.get("revenue", 0)),
        )
        for i in range(n)
    ]
    return TimelineOut(
        campaign_id=1,
        bucket_seconds=seconds,
        starts=start,
        ends=start + timedelta(seconds=seconds * n),
        sent_charted=True,
        buckets=buckets,
    )


def test_ticks_are_round_and_reach_the_top() -> None:
    assert charts.nice_ticks(32, whole=True) == [0, 10, 20, 30, 40]
    assert charts.nice_ticks(3, whole=True) == [0, 1, 2, 3]
    assert charts.nice_ticks(0, whole=True) == [0, 1]
    assert charts.nice_ticks(Decimal("20008.00"), whole=False) == [0, 10_000, 20_000, 30_000]
    assert charts.nice_ticks(Decimal("0.40"), whole=False) == [
        Decimal("0.0"),
        Decimal("0.1"),
        Decimal("0.2"),
        Decimal("0.3"),
        Decimal("0.4"),
    ]


def test_hourly_labels_name_the_day_when_it_changes() -> None:
    view = charts.timeline_view(_timeline(8, 3600, sent=5))
    labels = [t.label for t in view.activity.x_ticks]
    assert labels == ["30 Nov 20:00", "21:00", "22:00", "23:00", "1 Dec 00:00", "01:00", "02:00", "03:00"]
    assert view.activity.y_label == "Per hour" and view.revenue.y_label == "Revenue per hour"
    assert [name for name, _, _ in view.activity.legend] == ["sent", "opened", "clicked", "orders"]
    # Ticks follow the buckets' centres, and both charts put a bucket at the same x.
    assert view.activity.x_ticks == view.revenue.x_ticks
    xs = [x for x, _ in view.activity.lines[0].points]
    assert [round(t.at, 1) for t in view.activity.x_ticks] == [round(x, 1) for x in xs]
    assert not view.empty


def test_daily_labels_thin_out_and_quiet_timelines_are_empty() -> None:
    view = charts.timeline_view(_timeline(30, 86_400, orders=2, revenue=100))
    labels = [t.label for t in view.activity.x_ticks]
    assert labels[:2] == ["30 Nov", "4 Dec"] and len(labels) <= charts.MAX_X_LABELS
    assert len(view.revenue.bars) == 30 and view.rows[0][1][-1] == "₹100"
    assert charts.timeline_view(_timeline(3, 300)).empty


def test_the_dashboard_trends_label_days_and_values() -> None:
    days = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]
    orders = [0] * 30
    orders[3], orders[29] = 7, 2
    revenue = [Decimal(0)] * 30
    revenue[29] = Decimal("1500.50")
    view = charts.trends_view(
        dates=days,
        zone="Asia/Kolkata",
        orders=orders,
        revenue=revenue,
        new_customers=[1] * 30,
        attributed=[Decimal(0)] * 30,
    )
    count, money, joined, credited = view.charts
    assert [c.title for c in view.charts] == [
        "Orders per day",
        "Revenue per day",
        "New customers per day",
        "Attributed revenue per day",
    ]
    assert [t.label for t in count.y_ticks] == ["0", "2", "4", "6", "8"]
    assert [t.label for t in count.x_ticks][:3] == ["1 Nov", "5 Nov", "9 Nov"]
    assert count.x_label == "Day (Asia/Kolkata)"
    assert [d[2] for d in count.lines[0].dots] == [7, 2]  # a marker on each day with orders
    (bar,) = money.bars
    assert bar.title == "30 Nov 2026: ₹1,500.50"
    assert [t.label for t in money.y_ticks] == ["₹0", "₹500", "₹1,000", "₹1,500", "₹2,000"]
    assert not credited.bars and [t.label for t in credited.y_ticks] == ["₹0", "₹1"]
    assert view.totals == [
        ("Orders", "9"),
        ("Revenue", "₹1,500.50"),
        ("New customers", "30"),
        ("Attributed revenue", "₹0"),
    ]
    assert view.rows[29] == ("30 Nov 2026", ["2", "₹1,500.50", "1", "₹0"])
    assert joined.lines[0].name == "customers"
