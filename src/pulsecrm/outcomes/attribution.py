"""Exact attribution: which message each order is credited to, and what each group bought.

The rule (docs/campaigns.md "Outcomes"):
- An order is credited to a message of its customer that was sent (status sent, delivered
  or unknown after being sent; never failed) at or before the order and less than the
  campaign's `attribution_days` before it. When several qualify, the latest one wins (last
  touch; ties go to the higher delivery id).
- Separately, every member of a campaign's audience, messaged or held out as control,
  carries the orders they placed within `attribution_days` of the launch: the lift compares
  those two groups, whatever the messages did.

Both are a pure function of one customer's messages and orders (`attribute`), so they are
recomputed per customer, set-based, for the customers whose inputs changed: those the change
feed names (every committed ingestion batch, including the old owner of a moved order), those
marked when a message is recorded sent or bounced after an order already stored, and, once per
launch, those with orders already placed after it. Recomputing from the current rows, rather
than adding increments, is what keeps it exact under replays, amendments, re-timed or moved
orders, late arrivals and crashes: whatever happened, the next pass writes the same answer.
Counter changes go through `campaigns.counters` like every delivery counter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.campaigns import counters
from pulsecrm.campaigns.models import Campaign
from pulsecrm.customers.models import Customer, Order
from pulsecrm.db import bulk_update, bulk_upsert, one_of
from pulsecrm.delivery.machine import Deltas
from pulsecrm.delivery.models import Delivery
from pulsecrm.outcomes.models import AttributionMark, CampaignHoldout, OrderAttribution
from pulsecrm.outcomes.money import to_minor as minor
from pulsecrm.segments import changes
from pulsecrm.segments.models import FeedCursor

log = logging.getLogger(__name__)

CREDITABLE = ("sent", "delivered", "unknown")
CURSOR = "attribution"
# One pass holds this (transaction-scoped) so two workers never rewrite the same customer at once.
_PASS_LOCK = 0x5075_6C73_6541_7474
deliveries_t: sa.Table = Delivery.__table__  # type: ignore[assignment]
holdouts_t: sa.Table = CampaignHoldout.__table__  # type: ignore[assignment]
attributions_t: sa.Table = OrderAttribution.__table__  # type: ignore[assignment]
marks_t: sa.Table = AttributionMark.__table__  # type: ignore[assignment]


# --- the rule, as a pure function ------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A customer in a campaign's audience: messaged (`delivery_id`) or held out (`holdout_id`)."""

    campaign_id: int
    customer: str
    launched_at: datetime
    days: int
    delivery_id: int | None = None
    holdout_id: int | None = None
    sent_at: datetime | None = None  # set only when the message can take credit


@dataclass(frozen=True)
class Purchase:
    order_id: int
    customer: str
    ordered_at: datetime
    amount: Decimal


@dataclass
class Totals:
    attributed_orders: int = 0
    attributed_revenue: Decimal = Decimal(0)
    window_orders: int = 0
    window_revenue: Decimal = Decimal(0)


@dataclass(frozen=True)
class Attribution:
    credited: dict[int, int]  # order id -> delivery id
    totals: dict[Member, Totals]


def attribute(members: Iterable[Member], purchases: Iterable[Purchase]) -> Attribution:
    by_customer: dict[str, list[Member]] = {}
    totals: dict[Member, Totals] = {}
    for m in members:
        by_customer.setdefault(m.customer, []).append(m)
        totals[m] = Totals()
    credited: dict[int, int] = {}
    for p in purchases:
        best: Member | None = None
        for m in by_customer.get(p.customer, ()):
            window = timedelta(days=m.days)
            if m.launched_at <= p.ordered_at < m.launched_at + window:
                totals[m].window_orders += 1
                totals[m].window_revenue += p.amount
            if m.sent_at is not None and m.sent_at <= p.ordered_at < m.sent_at + window:
                assert m.delivery_id is not None
                if best is None or (m.sent_at, m.delivery_id) > (best.sent_at, best.delivery_id):
                    best = m
        if best is not None:
            assert best.delivery_id is not None
            credited[p.order_id] = best.delivery_id
            totals[best].attributed_orders += 1
            totals[best].attributed_revenue += p.amount
    return Attribution(credited, totals)


# --- recomputing customers -------------------------------------------------------------------

# `recompute` on PostgreSQL: the rule of `attribute`, written once more in SQL so a pass is one
# statement whatever its size, and its work runs in the database rather than on the event loop
# the ingestion writer shares in a worker (there, per order, it cost more than the writer's own
# Python). Same inputs, same answer: members are the customers' messages and control
# memberships of launched campaigns; a message takes credit only if creditable, at or before
# the order and less than the window before it, the latest (then the highest id) winning. The
# windows are `attribution_days` of 24 hours, as `timedelta(days=...)`. LATERAL keeps every read
# an index lookup per customer whatever plan the (generic, prepared) statement gets (OFFSET 0
# keeps a LATERAL from being flattened into a join, `= ANY(ARRAY(...))` keeps the updates on
# the primary key). Only what changed is written, and the statement returns the counter deltas
# per campaign. A credit that moved is overwritten in place (the order's old row may be keyed
# by a customer outside this pass); one that no longer exists is deleted. The updates lock rows
# in no set order: a deadlock with the dispatcher is retried by `Database.write`.
_RECOMPUTE_PG = sa.text("""
WITH members AS MATERIALIZED (
    SELECT c.external_id AS customer, m.*
    FROM unnest(CAST(:ids AS varchar[])) AS i(id)
    JOIN customers AS c ON c.external_id = i.id
    CROSS JOIN LATERAL (
        SELECT false AS control, d.id AS key, d.campaign_id, k.launched_at,
               k.attribution_days * interval '24 hours' AS span,
               CASE WHEN d.status IN ('sent', 'delivered', 'unknown') THEN d.sent_at END AS sent_at,
               d.attributed_orders AS old_a_n, d.attributed_revenue AS old_a_rev,
               d.window_orders AS old_w_n, d.window_revenue AS old_w_rev
        FROM deliveries AS d JOIN campaigns AS k ON k.id = d.campaign_id
        WHERE d.customer_id = c.id AND k.launched_at IS NOT NULL
        UNION ALL
        SELECT true, h.id, h.campaign_id, k.launched_at,
               k.attribution_days * interval '24 hours',
               NULL, 0, 0, h.window_orders, h.window_revenue
        FROM campaign_holdouts AS h JOIN campaigns AS k ON k.id = h.campaign_id
        WHERE h.customer_id = c.id AND k.launched_at IS NOT NULL
    ) AS m
),
purchases AS MATERIALIZED (
    -- Nothing before a customer's earliest launch or send can count.
    SELECT o.id AS order_id, s.customer, o.ordered_at, o.amount
    FROM (
        SELECT customer, min(least(launched_at, coalesce(sent_at, launched_at))) AS start
        FROM members GROUP BY customer
    ) AS s
    CROSS JOIN LATERAL (
        SELECT o.id, o.ordered_at, o.amount FROM orders AS o
        WHERE o.customer_external_id = s.customer AND o.ordered_at >= s.start
        OFFSET 0
    ) AS o
),
credits AS MATERIALIZED (
    SELECT DISTINCT ON (p.order_id) p.order_id, p.customer, p.ordered_at, p.amount,
           m.key AS delivery_id, m.campaign_id
    FROM purchases AS p JOIN members AS m ON m.customer = p.customer
    WHERE NOT m.control AND m.sent_at <= p.ordered_at AND p.ordered_at < m.sent_at + m.span
    ORDER BY p.order_id, m.sent_at DESC, m.key DESC
),
changed AS MATERIALIZED (
    SELECT m.control, m.key, m.campaign_id,
           m.old_a_n, m.old_a_rev, m.old_w_n, m.old_w_rev,
           coalesce(a.n, 0) AS a_n, coalesce(a.rev, 0) AS a_rev,
           coalesce(w.n, 0) AS w_n, coalesce(w.rev, 0) AS w_rev
    FROM members AS m
    LEFT JOIN (
        SELECT delivery_id, count(*) AS n, sum(amount) AS rev FROM credits GROUP BY delivery_id
    ) AS a ON NOT m.control AND a.delivery_id = m.key
    LEFT JOIN (
        SELECT m.control, m.key, count(*) AS n, sum(p.amount) AS rev
        FROM members AS m JOIN purchases AS p ON p.customer = m.customer
        WHERE m.launched_at <= p.ordered_at AND p.ordered_at < m.launched_at + m.span
        GROUP BY m.control, m.key
    ) AS w ON w.control = m.control AND w.key = m.key
    WHERE (coalesce(a.n, 0), coalesce(a.rev, 0), coalesce(w.n, 0), coalesce(w.rev, 0))
          IS DISTINCT FROM (m.old_a_n, m.old_a_rev, m.old_w_n, m.old_w_rev)
),
deliveries_written AS (
    UPDATE deliveries AS d
    SET attributed_orders = t.a_n, attributed_revenue = t.a_rev,
        window_orders = t.w_n, window_revenue = t.w_rev
    FROM changed AS t
    WHERE d.id = ANY(ARRAY(SELECT key FROM changed WHERE NOT control)) AND NOT t.control AND t.key = d.id
),
holdouts_written AS (
    UPDATE campaign_holdouts AS h SET window_orders = t.w_n, window_revenue = t.w_rev
    FROM changed AS t
    WHERE h.id = ANY(ARRAY(SELECT key FROM changed WHERE control)) AND t.control AND t.key = h.id
),
existing AS MATERIALIZED (
    SELECT a.*
    FROM (SELECT DISTINCT customer FROM members) AS s
    CROSS JOIN LATERAL (
        SELECT a.order_id, a.delivery_id, a.campaign_id, a.customer_external_id, a.amount, a.ordered_at
        FROM order_attributions AS a WHERE a.customer_external_id = s.customer
        OFFSET 0
    ) AS a
),
credits_removed AS (
    DELETE FROM order_attributions
    WHERE order_id = ANY(ARRAY(
        SELECT e.order_id FROM existing AS e
        WHERE NOT EXISTS (SELECT FROM credits AS c WHERE c.order_id = e.order_id)
    ))
),
credits_written AS (
    INSERT INTO order_attributions
        (order_id, delivery_id, campaign_id, customer_external_id, amount, ordered_at)
    SELECT c.order_id, c.delivery_id, c.campaign_id, c.customer, c.amount, c.ordered_at
    FROM credits AS c LEFT JOIN existing AS e ON e.order_id = c.order_id
    WHERE (e.delivery_id, e.campaign_id, e.customer_external_id, e.amount, e.ordered_at)
          IS DISTINCT FROM (c.delivery_id, c.campaign_id, c.customer, c.amount, c.ordered_at)
    ORDER BY c.order_id
    ON CONFLICT (order_id) DO UPDATE SET
        delivery_id = excluded.delivery_id, campaign_id = excluded.campaign_id,
        customer_external_id = excluded.customer_external_id,
        amount = excluded.amount, ordered_at = excluded.ordered_at
)
SELECT campaign_id,
    CAST(sum(CAST(a_n > 0 AS int) - CAST(old_a_n > 0 AS int)) AS bigint),
    CAST(sum(a_n - old_a_n) AS bigint),
    CAST(sum(round(a_rev * 100) - round(old_a_rev * 100)) AS bigint),
    CAST(sum(CASE WHEN control THEN 0 ELSE CAST(w_n > 0 AS int) - CAST(old_w_n > 0 AS int) END) AS bigint),
    CAST(sum(CASE WHEN control THEN 0 ELSE w_n - old_w_n END) AS bigint),
    CAST(sum(CASE WHEN control THEN 0 ELSE round(w_rev * 100) - round(old_w_rev * 100) END) AS bigint),
    CAST(sum(CASE WHEN control THEN CAST(w_n > 0 AS int) - CAST(old_w_n > 0 AS int) ELSE 0 END) AS bigint),
    CAST(sum(CASE WHEN control THEN w_n - old_w_n ELSE 0 END) AS bigint),
    CAST(sum(CASE WHEN control THEN round(w_rev * 100) - round(old_w_rev * 100) ELSE 0 END) AS bigint)
FROM changed GROUP BY campaign_id ORDER BY campaign_id
""")
# The statement's columns after campaign_id are counters.OUTCOMES, in that order (a control
# member has no credits: 0 - 0).


async def recompute(conn: AsyncConnection, customers: Sequence[str], *, now: datetime) -> Deltas:
    """Rewrite the attribution of these customers' orders and messages; returns counter deltas
    (already applied)."""
    if not customers:
        return Deltas()
    ids = sorted(set(customers))
    if conn.dialect.name == "postgresql":
        deltas = Deltas()
        for campaign_id, *changes in await conn.execute(_RECOMPUTE_PG, {"ids": ids}):
            deltas[campaign_id].update(zip(counters.OUTCOMES, changes, strict=True))
        await counters.apply_deltas(conn, {k: v for k, v in deltas.items() if any(v.values())}, now)
        return deltas
    deltas = Deltas()
    for chunk in _chunks(ids, 1_000):
        deltas.merge(await _recompute_in_python(conn, chunk, now=now))
    return deltas


async def _recompute_in_python(conn: AsyncConnection, ids: list[str], *, now: datetime) -> Deltas:
    """`recompute` through `attribute` (SQLite: no data-modifying CTEs nor LATERAL)."""
    delivery_rows = (
        await conn.execute(
            sa.select(
                Delivery.id,
                Delivery.campaign_id,
                Customer.external_id,
                Delivery.status,
                Delivery.sent_at,
                Delivery.attributed_orders,
                Delivery.attributed_revenue,
                Delivery.window_orders,
                Delivery.window_revenue,
                Campaign.attribution_days,
                Campaign.launched_at,
            )
            .join(Customer, Customer.id == Delivery.customer_id)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(one_of(conn, Customer.__table__.c.external_id, ids), Campaign.launched_at.is_not(None))
        )
    ).all()
    holdout_rows = (
        await conn.execute(
            sa.select(
                CampaignHoldout.id,
                CampaignHoldout.campaign_id,
                Customer.external_id,
                CampaignHoldout.window_orders,
                CampaignHoldout.window_revenue,
                Campaign.attribution_days,
                Campaign.launched_at,
            )
            .join(Customer, Customer.id == CampaignHoldout.customer_id)
            .join(Campaign, Campaign.id == CampaignHoldout.campaign_id)
            .where(one_of(conn, Customer.__table__.c.external_id, ids), Campaign.launched_at.is_not(None))
        )
    ).all()
    before: dict[Member, Totals] = {}
    for d_id, c_id, customer, status, sent_at, a_n, a_rev, w_n, w_rev, days, launched in delivery_rows:
        member = Member(
            c_id,
            customer,
            launched,
            days,
            delivery_id=d_id,
            sent_at=sent_at if status in CREDITABLE else None,
        )
        before[member] = Totals(a_n, a_rev, w_n, w_rev)
    for h_id, c_id, customer, w_n, w_rev, days, launched in holdout_rows:
        if launched is None:  # excluded by the query; says so to the type checker
            continue
        before[Member(c_id, customer, launched, days, holdout_id=h_id)] = Totals(0, Decimal(0), w_n, w_rev)
    if not before:
        # No messages and no control memberships: such a customer has no credited orders either
        # (a credit is to the customer's own message, keyed by them, deleted with it).
        return Deltas()

    purchases: list[Purchase] = []
    with_members = sorted({m.customer for m in before})
    # order id -> its credit row as stored: (delivery, customer, amount, time).
    existing: dict[int, tuple[int, str, Decimal, datetime]] = {
        o: (d, c, a, at)
        for o, d, c, a, at in await conn.execute(
            sa.select(
                OrderAttribution.order_id,
                OrderAttribution.delivery_id,
                OrderAttribution.customer_external_id,
                OrderAttribution.amount,
                OrderAttribution.ordered_at,
            ).where(one_of(conn, attributions_t.c.customer_external_id, with_members))
        )
    }
    if with_members:
        # Nothing before the earliest launch or send can count (a send precedes its launch
        # only in imported history, but then its orders still count).
        start = min(min(m.launched_at, m.sent_at or m.launched_at) for m in before)
        purchases = [
            Purchase(o_id, customer, at, amount)
            for o_id, customer, at, amount in await conn.execute(
                sa.select(Order.id, Order.customer_external_id, Order.ordered_at, Order.amount).where(
                    one_of(conn, Order.__table__.c.customer_external_id, with_members),
                    Order.ordered_at >= start,
                )
            )
        ]
    result = attribute(before, purchases)

    deltas = Deltas()
    delivery_updates: list[dict[str, Any]] = []
    holdout_updates: list[dict[str, Any]] = []
    for member, old in before.items():
        new = result.totals[member]
        if new == old:
            continue
        c = deltas[member.campaign_id]
        group = "control" if member.holdout_id is not None else "treatment"
        c[f"{group}_converted"] += (new.window_orders > 0) - (old.window_orders > 0)
        c[f"{group}_orders"] += new.window_orders - old.window_orders
        c[f"{group}_revenue_minor"] += minor(new.window_revenue) - minor(old.window_revenue)
        if member.delivery_id is not None:
            c["converted"] += (new.attributed_orders > 0) - (old.attributed_orders > 0)
            c["orders"] += new.attributed_orders - old.attributed_orders
            c["revenue_minor"] += minor(new.attributed_revenue) - minor(old.attributed_revenue)
            delivery_updates.append(
                {
                    "id": member.delivery_id,
                    "attributed_orders": new.attributed_orders,
                    "attributed_revenue": new.attributed_revenue,
                    "window_orders": new.window_orders,
                    "window_revenue": new.window_revenue,
                }
            )
        else:
            holdout_updates.append(
                {
                    "id": member.holdout_id,
                    "window_orders": new.window_orders,
                    "window_revenue": new.window_revenue,
                }
            )
    await bulk_update(conn, deliveries_t, sorted(delivery_updates, key=lambda r: r["id"]), key="id")
    await bulk_update(conn, holdouts_t, sorted(holdout_updates, key=lambda r: r["id"]), key="id")

    # A credit that moved to another message is overwritten below; one that is gone, deleted.
    gone = [o for o in existing if o not in result.credited]
    if gone:
        await conn.execute(sa.delete(OrderAttribution).where(one_of(conn, attributions_t.c.order_id, gone)))
    campaign_of = {m.delivery_id: m.campaign_id for m in before if m.delivery_id is not None}
    rows = [
        {
            "order_id": p.order_id,
            "delivery_id": result.credited[p.order_id],
            "campaign_id": campaign_of[result.credited[p.order_id]],
            "customer_external_id": p.customer,
            "amount": p.amount,
            "ordered_at": p.ordered_at,
        }
        for p in sorted(purchases, key=lambda p: p.order_id)
        if p.order_id in result.credited
        # An amended order keeps its credit but not its old amount or time.
        and existing.get(p.order_id) != (result.credited[p.order_id], p.customer, p.amount, p.ordered_at)
    ]
    # An order moved here from a customer outside this batch still has its old row: overwrite it.
    await bulk_upsert(
        conn,
        attributions_t,
        rows,
        key="order_id",
        set_={
            c: f"excluded.{c}"
            for c in ("delivery_id", "campaign_id", "customer_external_id", "amount", "ordered_at")
        },
    )
    await counters.apply_deltas(conn, {k: v for k, v in deltas.items() if any(v.values())}, now)
    return deltas


# --- what to recompute, and the pass ---------------------------------------------------------


async def mark_sent_after_orders(conn: AsyncConnection, delivery_ids: Sequence[int]) -> None:
    """These messages were just recorded sent (or bounced): their customers need another look
    only if an order placed at or after the send is already stored (our bookkeeping was slower
    than the shop). The usual case, no such order, writes nothing."""
    if not delivery_ids:
        return
    late = (
        sa.select(Customer.external_id)
        .join(Delivery, Delivery.customer_id == Customer.id)
        .where(
            one_of(conn, deliveries_t.c.id, list(delivery_ids)),
            sa.exists().where(
                Order.customer_external_id == Customer.external_id, Order.ordered_at >= Delivery.sent_at
            ),
        )
        .distinct()
    )
    await conn.execute(sa.insert(AttributionMark).from_select(["customer_external_id"], late))


async def _seed_launches(conn: AsyncConnection, limit: int = 5) -> int:
    """Once per launched campaign: mark its audience members with orders already placed after
    the launch (committed before the campaign's rows were visible to an earlier pass)."""
    fresh = (
        await conn.execute(
            sa.select(Campaign.id, Campaign.launched_at)
            .where(Campaign.launched_at.is_not(None), Campaign.attribution_seeded.is_(False))
            .order_by(Campaign.id)
            .limit(limit)
        )
    ).all()
    for campaign_id, launched_at in fresh:
        for table in (deliveries_t, holdouts_t):
            members = (
                sa.select(Customer.external_id)
                .join(table, table.c.customer_id == Customer.id)
                .where(
                    table.c.campaign_id == campaign_id,
                    sa.exists().where(
                        Order.customer_external_id == Customer.external_id, Order.ordered_at >= launched_at
                    ),
                )
            )
            await conn.execute(sa.insert(AttributionMark).from_select(["customer_external_id"], members))
    if fresh:
        await conn.execute(
            sa.update(Campaign)
            .where(Campaign.id.in_([c for c, _ in fresh]))
            .values(attribution_seeded=True)
            .execution_options(synchronize_session=False)
        )
    return len(fresh)


@dataclass(frozen=True)
class Pass:
    customers: int
    seeded: int
    skipped: bool = False  # another process held the pass


async def catch_up(conn: AsyncConnection, *, now: datetime, limit: int = 2_000) -> Pass:
    """One bounded pass, in the caller's transaction: up to `limit` customers from the change
    feed and the marks, plus launches not seeded yet. The cursor moves in the same transaction,
    so a crash repeats the pass instead of skipping it."""
    if conn.dialect.name != "sqlite" and not await conn.scalar(
        sa.select(sa.func.pg_try_advisory_xact_lock(_PASS_LOCK))
    ):
        return Pass(0, 0, skipped=True)
    cursor = (
        await conn.execute(sa.select(FeedCursor.seq, FeedCursor.at).where(FeedCursor.name == CURSOR))
    ).first()
    if cursor is None:
        # First pass ever: nothing was attributed before, so start at the feed's end.
        await conn.execute(sa.insert(FeedCursor).values(name=CURSOR, seq=await changes.latest(conn), at=now))
        return Pass(0, 0)
    seq, moved_at = cursor
    if moved_at < now - changes.HARD_RETENTION + timedelta(hours=1):
        # Stopped for about a week: the feed may have been pruned past us. Every change that can
        # matter is an order placed after some launch still in its window: seed those again.
        await conn.execute(
            sa.update(Campaign)
            .where(Campaign.launched_at >= now - changes.HARD_RETENTION - timedelta(days=30))
            .values(attribution_seeded=False)
            .execution_options(synchronize_session=False)
        )
    if conn.dialect.name == "postgresql":
        # A pass's statement over thousands of customers is costed above `jit_above_cost`, and
        # compiling it took longer than running it (1.7 of 3.0 s at 19k customers).
        await conn.execute(sa.text("SET LOCAL jit = off"))
    seeded = await _seed_launches(conn)
    customers: set[str] = set()
    feed = await changes.since(conn, seq, limit=max(1, limit // 100))
    for change in feed:
        customers.update(change.external_ids)
    marks = (
        await conn.execute(
            sa.select(AttributionMark.id, AttributionMark.customer_external_id)
            .order_by(AttributionMark.id)
            .limit(limit)
        )
    ).all()
    customers.update(m for _, m in marks)
    await recompute(conn, sorted(customers), now=now)
    if marks:
        await conn.execute(
            sa.delete(AttributionMark).where(one_of(conn, marks_t.c.id, [i for i, _ in marks]))
        )
    await conn.execute(
        sa.update(FeedCursor)
        .where(FeedCursor.name == CURSOR)
        .values(seq=feed[-1].seq if feed else seq, at=now)
    )
    return Pass(len(customers), seeded)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
