"""A/B variants: who gets which message, and picking the winner of a test.

Assignment is the holdout's integer hash (`outcomes.holdout`) with a seed of its own, so it is
deterministic per customer and audience, independent of who is held out, and computed inside
the launch's INSERT … SELECT. Every customer has one delivery per campaign, so one variant.

- An even split: variant = bucket mod k.
- Test, then the winner: customers with bucket < test_percent * 100 are the test, split
  evenly the same way; the rest wait (no variant yet, not due) until `variant_test_hours`
  after the launch, when `pick_winners` compares the variants' click or conversion rates
  among the messages that went out, records the winner and why, and gives it to the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import InstrumentedAttribute

from pulsecrm.campaigns.models import Campaign
from pulsecrm.delivery.models import Delivery
from pulsecrm.outcomes import holdout
from pulsecrm.outcomes import lift as lift_math

LABELS = "ABCDE"
WENT_OUT = ("sent", "delivered", "unknown")


def seed_of(rules: Any) -> int:
    # Not the holdout's seed: which variant a customer gets must not depend on control.
    return (holdout.seed_of(rules) * 31 + 7) % holdout.P


def assignment(
    campaign: Campaign, customer_id: sa.ColumnElement[int] | InstrumentedAttribute[int]
) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[bool] | None]:
    """(the variant column's value, whether the delivery is in the test) for the launch."""
    assert campaign.variants
    k = len(campaign.variants)
    bucket = holdout.bucket_sql(seed_of(campaign.rules), customer_id)
    if not campaign.variant_test_percent:
        return bucket % k, None
    in_test = bucket < campaign.variant_test_percent * (holdout.BUCKETS // 100)
    return sa.case((in_test, bucket % k), else_=sa.null()), in_test


def variant_of(campaign: Campaign, index: int | None) -> tuple[str, str | None]:
    """The (message, subject) a delivery with this variant gets."""
    if not campaign.variants or index is None:
        return campaign.message, campaign.subject
    chosen = campaign.variants[index]
    return str(chosen["message"]), chosen.get("subject") or campaign.subject


@dataclass(frozen=True)
class VariantFigures:
    index: int
    customers: int
    went_out: int
    delivered: int
    opened: int
    clicked: int
    converted: int
    orders: int
    revenue: Any

    @property
    def label(self) -> str:
        return LABELS[self.index]

    def rate(self, metric: str) -> float | None:
        hits = self.clicked if metric == "clicked" else self.converted
        return hits / self.went_out if self.went_out else None


async def figures(conn: AsyncConnection, campaign_id: int) -> list[VariantFigures]:
    """Per-variant counts over the campaign's deliveries (one GROUP BY; variant campaigns only).
    Before a test is decided, only the test's deliveries have a variant."""

    def count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    query = (
        sa.select(
            Delivery.variant,
            sa.func.count(),
            count_if(Delivery.status.in_(WENT_OUT)),
            count_if(Delivery.status == "delivered"),
            count_if(Delivery.opened_at.is_not(None)),
            count_if(Delivery.clicked_at.is_not(None)),
            count_if(Delivery.attributed_orders > 0),
            sa.func.coalesce(sa.func.sum(Delivery.attributed_orders), 0),
            sa.func.coalesce(sa.func.sum(Delivery.attributed_revenue), 0),
        )
        .where(Delivery.campaign_id == campaign_id, Delivery.variant.is_not(None))
        .group_by(Delivery.variant)
        .order_by(Delivery.variant)
    )
    found = []
    for row in await conn.execute(query):
        v, customers, went_out, delivered, opened, clicked, converted, orders, revenue = row
        found.append(
            VariantFigures(
                index=int(v or 0),
                customers=int(customers),
                went_out=int(went_out),
                delivered=int(delivered),
                opened=int(opened),
                clicked=int(clicked),
                converted=int(converted),
                orders=int(orders),
                revenue=revenue,
            )
        )
    return found


def verdict(found: list[VariantFigures], metric: str) -> tuple[VariantFigures | None, str]:
    """The best variant by `metric` rate (ties go to the earlier one) and a sentence saying why,
    with a warning when the difference from the runner-up is not significant."""
    name = "click rate" if metric == "clicked" else "conversion rate"
    rated = [(f.rate(metric), f) for f in found if f.rate(metric) is not None]
    if not rated:
        return None, f"No test message went out, so there is no {name} to compare."
    ranked = sorted(rated, key=lambda pair: (-(pair[0] or 0.0), pair[1].index))
    best, others = ranked[0][1], ranked[1:]

    def hits(f: VariantFigures) -> int:
        return f.clicked if metric == "clicked" else f.converted

    parts = [f"{f.label} {(r or 0) * 100:.1f}% ({hits(f)} of {f.went_out})" for r, f in ranked]
    sentence = f"{best.label} won on {name}: " + " vs ".join(parts) + "."
    if others:
        runner = others[0][1]
        result = lift_math.lift(hits(best), best.went_out, hits(runner), runner.went_out)
        if result is not None and not result.significant:
            sentence += (
                f" The test is too small to call: {best.label} vs {runner.label} is "
                f"{result.absolute * 100:+.1f} pts, 95% CI {result.low * 100:.1f} to {result.high * 100:.1f}."
            )
    return best, sentence


async def pick_winners(conn: AsyncConnection, *, now: datetime) -> int:
    """Decide every test whose time has come, once: record the winner and why, and give it to
    the customers still waiting (their messages become due now). Returns how many were decided."""
    due = (
        await conn.execute(
            sa.select(Campaign.id, Campaign.launched_at, Campaign.variant_test_hours)
            .where(
                Campaign.variant_test_percent.is_not(None),
                Campaign.winner.is_(None),
                Campaign.status.in_(["running", "paused"]),
            )
            .order_by(Campaign.id)
        )
    ).all()
    decided = 0
    for campaign_id, launched_at, hours in due:
        if launched_at is None or launched_at + timedelta(hours=hours or 0) > now:
            continue
        lock = sa.select(Campaign).where(Campaign.id == campaign_id, Campaign.winner.is_(None))
        if conn.dialect.name != "sqlite":
            lock = lock.with_for_update(skip_locked=True)
        campaign = (await conn.execute(lock)).first()
        if campaign is None:  # another worker is deciding it, or has
            continue
        metric = campaign.variant_metric or "clicked"
        best, reason = verdict(await figures(conn, campaign_id), metric)
        winner = best.index if best is not None else 0
        await conn.execute(
            sa.update(Delivery)
            .where(
                Delivery.campaign_id == campaign_id, Delivery.variant.is_(None), Delivery.status == "pending"
            )
            .values(variant=winner, next_attempt_at=None, updated_at=now)
        )
        await conn.execute(
            sa.update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(winner=winner, winner_reason=reason[:500], winner_at=now, updated_at=now)
        )
        decided += 1
    return decided
