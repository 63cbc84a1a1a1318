"""The campaign timeline drawn as SVG on the server: geometry here, markup in _macros.html.

Positions, tick values and labels are computed in Python so the template only writes
attributes (which the Content-Security-Policy allows) and no script draws anything."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from pulsecrm import formatting
from pulsecrm.outcomes.schemas import TimelineOut

WIDTH, HEIGHT = 900, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 30, 44
MAX_BAR = 48
MAX_X_LABELS = 8
COUNT_SERIES = (("sent", "Sent"), ("opened", "Opens"), ("clicked", "Clicks"), ("orders", "Orders"))


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class Line:
    name: str
    label: str
    points: list[tuple[float, float]]
    values: list[int]

    @property
    def path(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)

    @property
    def dots(self) -> list[tuple[float, float, int]]:
        """A marker where something happened: a lone bucket still shows."""
        return [(x, y, v) for (x, y), v in zip(self.points, self.values, strict=True) if v]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass
class Chart:
    title: str
    y_label: str
    x_label: str = "Time (UTC)"
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    bar_label: str | None = None
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM

    @property
    def legend(self) -> list[tuple[str, str, float]]:
        """(css name, label, x) of each series, left to right above the plot."""
        out, x = [], float(self.left)
        named = [(line.name, line.label) for line in self.lines]
        for name, label in named + ([("revenue", self.bar_label)] if self.bar_label else []):
            out.append((name, label, x))
            x += 30 + 7 * len(label)
        return out


@dataclass
class TimelineView:
    """Everything the page shows of the timeline: two charts, the rows behind them, notes."""

    activity: Chart
    revenue: Chart
    rows: list[tuple[str, list[str]]]
    columns: list[str]
    bucket_name: str
    sent_charted: bool
    empty: bool


def nice_ticks(top: Decimal | int, *, whole: bool) -> list[Decimal]:
    """0 and 3 to 5 round steps (1, 2 or 5 x 10^k) reaching at least `top`."""
    top = Decimal(top)
    if top <= 0:
        return [Decimal(0), Decimal(1)]
    raw = top / 4
    magnitude = Decimal(10) ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(step, Decimal(1))
    n = math.ceil(top / step)
    return [step * i for i in range(n + 1)]


def _bucket_name(seconds: int) -> str:
    if seconds == 300:
        return "5 minutes"
    if seconds == 3600:
        return "hour"
    days = seconds // 86_400
    return "day" if days == 1 else f"{days} days"


def _time_label(at: datetime, seconds: int, previous: datetime | None) -> str:
    if seconds >= 86_400:
        return f"{at.day} {at:%b}"
    if previous is None or previous.date() != at.date():
        return f"{at.day} {at:%b} {at:%H:%M}"
    return f"{at:%H:%M}"


def _x_ticks(starts: list[datetime], seconds: int, band: float, left: int) -> list[Tick]:
    every = max(1, math.ceil(len(starts) / MAX_X_LABELS))
    ticks, previous = [], None
    for i in range(0, len(starts), every):
        ticks.append(Tick(left + band * (i + 0.5), _time_label(starts[i], seconds, previous)))
        previous = starts[i]
    return ticks


def _left_for(labels: list[str]) -> int:
    """Room for the rotated axis title and the widest tick label (~7 px a character at 11 px)."""
    return 30 + 7 * max((len(label) for label in labels), default=1)


def _y(value: Decimal | int, top: Decimal, chart: Chart) -> float:
    return chart.bottom - float(Decimal(value) / top) * (chart.bottom - chart.top)


def timeline_view(timeline: TimelineOut) -> TimelineView:
    buckets = timeline.buckets
    bucket = _bucket_name(timeline.bucket_seconds)
    starts = [b.starts for b in buckets]
    names = [(n, label) for n, label in COUNT_SERIES if n != "sent" or timeline.sent_charted]
    counts = {n: [int(getattr(b, n) or 0) for b in buckets] for n, _ in names}
    revenue = [Decimal(b.revenue) for b in buckets]
    ticks = nice_ticks(max((max(v, default=0) for v in counts.values()), default=0), whole=True)
    money_ticks = nice_ticks(max(revenue, default=Decimal(0)), whole=False)
    tick_labels = [formatting.number(t) for t in ticks]
    money_labels = [formatting.money(t) for t in money_ticks]
    # One left margin for both charts, so a bucket sits at the same x in each.
    left = _left_for(tick_labels + money_labels)
    band = (WIDTH - RIGHT - left) / max(len(buckets), 1)
    x_ticks = _x_ticks(starts, timeline.bucket_seconds, band, left)

    activity = Chart(title="Activity over time", y_label=f"Per {bucket}", x_ticks=x_ticks, left=left)
    activity.y_ticks = [
        Tick(_y(t, ticks[-1], activity), label) for t, label in zip(ticks, tick_labels, strict=True)
    ]
    for n, label in names:
        points = [(left + band * (i + 0.5), _y(v, ticks[-1], activity)) for i, v in enumerate(counts[n])]
        activity.lines.append(Line(n, label, points, counts[n]))

    money = Chart(
        title="Attributed revenue over time",
        y_label=f"Revenue per {bucket}",
        x_ticks=x_ticks,
        bar_label="Revenue credited to this campaign (last touch)",
        left=left,
    )
    money.y_ticks = [
        Tick(_y(t, money_ticks[-1], money), label) for t, label in zip(money_ticks, money_labels, strict=True)
    ]
    width = min(band * 0.7, MAX_BAR)
    for i, (at, amount) in enumerate(zip(starts, revenue, strict=True)):
        if amount > 0:
            y = _y(amount, money_ticks[-1], money)
            title = f"{formatting.datetime_(at)}: {formatting.money(amount)}"
            money.bars.append(Bar(left + band * (i + 0.5) - width / 2, y, width, money.bottom - y, title))

    columns = [label for _, label in names] + ["Revenue"]
    rows = [
        (
            formatting.datetime_(at),
            [formatting.number(counts[n][i]) for n, _ in names] + [formatting.money(revenue[i])],
        )
        for i, at in enumerate(starts)
    ]
    # Without charted sends a quiet chart is no proof that nothing happened: it is drawn anyway.
    quiet = not any(any(v) for v in counts.values()) and not any(revenue)
    empty = not buckets or (quiet and timeline.sent_charted)
    return TimelineView(activity, money, rows, columns, bucket, timeline.sent_charted, empty)


# --- the dashboard's trends ---------------------------------------------------------------------


@dataclass
class TrendsView:
    """The dashboard's charts over the last `span` store-time days, and the rows behind them."""

    span: int
    zone: str
    charts: list[Chart]
    totals: list[tuple[str, str]]  # (what, the period's total), one per chart
    columns: list[str]
    rows: list[tuple[str, list[str]]]


def _day_ticks(dates: list[date], band: float, left: int) -> list[Tick]:
    starts = [datetime.combine(d, time()) for d in dates]
    return _x_ticks(starts, 86_400, band, left)


def _count_chart(title: str, name: str, label: str, values: list[int], dates: list[date], zone: str) -> Chart:
    ticks = nice_ticks(max(values, default=0), whole=True)
    labels = [formatting.number(t) for t in ticks]
    left = _left_for(labels)
    band = (WIDTH - RIGHT - left) / max(len(values), 1)
    chart = Chart(title=title, y_label="Per day", x_label=f"Day ({zone})", left=left)
    chart.x_ticks = _day_ticks(dates, band, left)
    chart.y_ticks = [Tick(_y(t, ticks[-1], chart), text) for t, text in zip(ticks, labels, strict=True)]
    points = [(left + band * (i + 0.5), _y(v, ticks[-1], chart)) for i, v in enumerate(values)]
    chart.lines.append(Line(name, label, points, values))
    return chart


def _money_chart(title: str, bar_label: str, amounts: list[Decimal], dates: list[date], zone: str) -> Chart:
    ticks = nice_ticks(max(amounts, default=Decimal(0)), whole=False)
    labels = [formatting.money(t) for t in ticks]
    left = _left_for(labels)
    band = (WIDTH - RIGHT - left) / max(len(amounts), 1)
    chart = Chart(title=title, y_label="Per day", x_label=f"Day ({zone})", bar_label=bar_label, left=left)
    chart.x_ticks = _day_ticks(dates, band, left)
    chart.y_ticks = [Tick(_y(t, ticks[-1], chart), text) for t, text in zip(ticks, labels, strict=True)]
    width = min(band * 0.7, MAX_BAR)
    for i, (day, amount) in enumerate(zip(dates, amounts, strict=True)):
        if amount > 0:
            y = _y(amount, ticks[-1], chart)
            title_text = f"{formatting.date_(day)}: {formatting.money(amount)}"
            chart.bars.append(
                Bar(left + band * (i + 0.5) - width / 2, y, width, chart.bottom - y, title_text)
            )
    return chart


def trends_view(
    *,
    dates: list[date],
    zone: str,
    orders: list[int],
    revenue: list[Decimal],
    new_customers: list[int],
    attributed: list[Decimal],
) -> TrendsView:
    span = len(dates)
    charts = [
        _count_chart("Orders per day", "orders", "Orders", orders, dates, zone),
        _money_chart("Revenue per day", "Revenue of all orders", revenue, dates, zone),
        _count_chart("New customers per day", "customers", "New customers", new_customers, dates, zone),
        _money_chart(
            "Attributed revenue per day",
            "Revenue credited to a campaign (last touch)",
            attributed,
            dates,
            zone,
        ),
    ]
    totals = [
        ("Orders", formatting.number(sum(orders))),
        ("Revenue", formatting.money(sum(revenue, Decimal(0)))),
        ("New customers", formatting.number(sum(new_customers))),
        ("Attributed revenue", formatting.money(sum(attributed, Decimal(0)))),
    ]
    rows = [
        (
            formatting.date_(day),
            [
                formatting.number(orders[i]),
                formatting.money(revenue[i]),
                formatting.number(new_customers[i]),
                formatting.money(attributed[i]),
            ],
        )
        for i, day in enumerate(dates)
    ]
    return TrendsView(span, zone, charts, totals, [name for name, _ in totals], rows)
