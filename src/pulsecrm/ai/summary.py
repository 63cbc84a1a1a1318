"""A campaign's performance in plain words, every number taken from facts computed in SQL.

The facts: delivered and failed overall, and by slice of the audience (city, spend band,
recency band), each slice with its size, one GROUP BY per dimension over the campaign's
deliveries joined to their customers. The sentences are built from the facts only, and
`ungrounded` lists any number in a text that is not among them, so a phrasing (ours or a
model's) that brings its own number can be refused. Lift against a holdout and results by
variant need campaign outcomes and variants, which do not exist yet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm import formatting
from pulsecrm.customers.models import Customer
from pulsecrm.delivery.models import Delivery

SPEND_BANDS = (1_000, 10_000)  # under the first, between, at or over the second
RECENCY_DAYS = (30, 90)
MIN_SLICE = 5  # settled messages a slice needs before it is called best or worst


@dataclass(frozen=True)
class Slice:
    dimension: str  # "city", "spend", "recency"
    label: str  # how a sentence names it: "Pune", "spend of ₹10,000 or more"
    size: int  # messages to this slice
    delivered: int
    failed: int

    @property
    def settled(self) -> int:
        return self.delivered + self.failed

    @property
    def rate(self) -> Decimal | None:
        """Delivered of settled, in percent with one decimal."""
        return _percent(self.delivered, self.settled)


@dataclass(frozen=True)
class Facts:
    campaign_id: int
    messages: int
    delivered: int
    failed: int
    pending: int
    slices: list[Slice] = field(default_factory=list)

    @property
    def rate(self) -> Decimal | None:
        return _percent(self.delivered, self.delivered + self.failed)

    def ranked(self) -> list[Slice]:
        """Slices with enough settled messages, best delivery rate first (size breaks ties)."""
        ready = [s for s in self.slices if s.settled >= MIN_SLICE and s.rate is not None]
        return sorted(ready, key=lambda s: (s.rate, s.settled), reverse=True)

    def numbers(self) -> set[Decimal]:
        """Every number a sentence may state."""
        found = {Decimal(n) for n in (self.messages, self.delivered, self.failed, self.pending)}
        found |= {Decimal(n) for n in (*SPEND_BANDS, *RECENCY_DAYS)}
        if self.rate is not None:
            found.add(self.rate)
        for s in self.slices:
            found |= {Decimal(s.size), Decimal(s.settled), Decimal(s.delivered), Decimal(s.failed)}
            if s.rate is not None:
                found.add(s.rate)
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "delivered": self.delivered,
            "failed": self.failed,
            "pending": self.pending,
            "delivery_rate_percent": _plain(self.rate),
            "slices": [
                {
                    "dimension": s.dimension,
                    "label": s.label,
                    "size": s.size,
                    "delivered": s.delivered,
                    "failed": s.failed,
                    "delivery_rate_percent": _plain(s.rate),
                }
                for s in self.slices
            ],
        }


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"))


def _plain(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# Written as the pages write them (pulsecrm.formatting): the store locale's digit grouping and
# currency, and a rate with one decimal like the pages' `rate` filter. The grounding check reads
# any grouping ("1,23,456") as the same number.
def _rate(value: Decimal | None) -> str:
    return f"{value:.1f}%" if value is not None else "no"


def _count(n: int) -> str:
    return formatting.number(n)


def spend_labels() -> dict[str, str]:
    """The spend bands as sentences name them, in the store's currency."""
    low, high = (formatting.money(n) for n in SPEND_BANDS)
    return {
        "low": f"spend under {low}",
        "mid": f"spend of {low} to under {high}",
        "high": f"spend of {high} or more",
    }


RECENCY_LABELS = {
    "recent": f"an order in the last {RECENCY_DAYS[0]} days",
    "warm": f"a last order {RECENCY_DAYS[0]} to {RECENCY_DAYS[1]} days ago",
    "lapsed": f"no order in {RECENCY_DAYS[1]} days",
    "never": "no orders yet",
}


async def facts(session: AsyncSession, campaign_id: int, *, now: datetime) -> Facts:
    """The campaign's delivery facts, overall and by slice: four aggregate queries."""
    statuses = await _by(session, campaign_id, sa.literal("all"))
    total = statuses.get("all", (0, 0, 0, 0))
    spend = sa.case(
        (Customer.total_spend < SPEND_BANDS[0], "low"),
        (Customer.total_spend < SPEND_BANDS[1], "mid"),
        else_="high",
    )
    recency = sa.case(
        (Customer.last_order_at.is_(None), "never"),
        (Customer.last_order_at >= now - timedelta(days=RECENCY_DAYS[0]), "recent"),
        (Customer.last_order_at >= now - timedelta(days=RECENCY_DAYS[1]), "warm"),
        else_="lapsed",
    )
    slices: list[Slice] = []
    for dimension, expression, labels in (
        ("city", sa.func.coalesce(Customer.city, ""), None),
        ("spend", spend, spend_labels()),
        ("recency", recency, RECENCY_LABELS),
    ):
        for key, (size, delivered, failed, _pending) in sorted(
            (await _by(session, campaign_id, expression)).items()
        ):
            label = labels[key] if labels else (key or "no city on file")
            slices.append(Slice(dimension, label, size, delivered, failed))
    return Facts(campaign_id, total[0], total[1], total[2], total[3], slices)


async def _by(
    session: AsyncSession, campaign_id: int, expression: sa.ColumnElement[Any]
) -> dict[str, tuple[int, int, int, int]]:
    # A subquery names the slice once, so GROUP BY repeats no bound parameter (PostgreSQL
    # would otherwise see two different expressions).
    rows = (
        sa.select(expression.label("slice"), Delivery.status)
        .join(Customer, Customer.id == Delivery.customer_id)
        .where(Delivery.campaign_id == campaign_id)
        .subquery()
    )

    def count(status: str) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((rows.c.status == status, 1), else_=0))

    result = await session.execute(
        sa.select(
            rows.c.slice, sa.func.count(), count("delivered"), count("failed"), count("pending")
        ).group_by(rows.c.slice)
    )
    return {str(r[0]): (int(r[1]), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)) for r in result}


def sentences(f: Facts) -> list[str]:
    """Three to six plain sentences, each number straight from the facts."""
    if not f.messages:
        return [
            "This campaign has sent no messages yet.",
            "Launch it to see how delivery goes.",
            "Its summary will show rates by city, spend and recency.",
        ]
    out: list[str] = []
    settled = f.delivered + f.failed
    if settled:
        out.append(
            f"Of {_count(f.messages)} messages, {_count(f.delivered)} were delivered "
            f"and {_count(f.failed)} failed: a {_rate(f.rate)} delivery rate."
        )
    else:
        out.append(f"None of the {_count(f.messages)} messages has been delivered or has failed yet.")
    if f.pending:
        out.append(f"{_count(f.pending)} are still pending, so these figures can still change.")
    ranked = f.ranked()
    if len(ranked) >= 2 and ranked[0].rate != ranked[-1].rate:
        best, worst = ranked[0], ranked[-1]
        for word, s in (("Best", best), ("Weakest", worst)):
            out.append(
                f"{word}: customers with {_who(s)}, {_rate(s.rate)} delivered of {_count(s.settled)} settled."
            )
    elif ranked:
        out.append("Delivery was even across cities, spend and recency.")
    top_band = spend_labels()["high"]
    high = next((s for s in f.slices if s.label == top_band and s.settled), None)
    if high is not None and len(out) < 6:
        out.append(f"Customers with {top_band} had a {_rate(high.rate)} delivery rate.")
    if len(out) < 3:
        out.append("Results by variant and lift against a holdout are not available for this campaign.")
    return out[:6]


def _who(s: Slice) -> str:
    return f"city {s.label}" if s.dimension == "city" and s.label != "no city on file" else s.label


def checked_sentences(f: Facts) -> list[str]:
    """`sentences(f)`, refused if any of their numbers is not a fact (a bug, never input)."""
    said = sentences(f)
    if stray := ungrounded(" ".join(said), f):
        raise AssertionError(f"summary states numbers not in its facts: {stray}")
    return said


_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def ungrounded(text: str, f: Facts) -> list[str]:
    """Numbers in `text` that are not among the facts (empty when every number is grounded)."""
    known = f.numbers()
    return [n for n in _NUMBER.findall(text) if Decimal(n.replace(",", "")) not in known]
