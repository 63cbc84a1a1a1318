"""Every statement that creates or moves a delivery, set-based, in the caller's transaction.

Campaigns (launch, cancel), the dispatcher (claim, record, sweeps) and the receipts consumer
call these and nothing else writes `deliveries`. Each statement guards its UPDATE with the
sources `delivery.machine` lists for its event, locks what it reads before deciding, and
hands the counter changes it made to `_count`, the one place campaign counters move.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm.campaigns import counters, timing
from pulsecrm.campaigns.models import Campaign
from pulsecrm.customers import consent
from pulsecrm.customers.models import Customer
from pulsecrm.db import bulk_update, bulk_upsert, one_of
from pulsecrm.delivery import machine
from pulsecrm.delivery.channels import Deferred, Rejected, SendOutcome, Sent
from pulsecrm.delivery.machine import Deltas, Event
from pulsecrm.delivery.models import Delivery, EngagementEvent, ParkedReceipt, TrackedLink
from pulsecrm.delivery.receipts import OUTCOMES, Engagement, Receipt
from pulsecrm.outcomes import attribution

deliveries_t: sa.Table = Delivery.__table__  # type: ignore[assignment]
parked_t: sa.Table = ParkedReceipt.__table__  # type: ignore[assignment]
events_t: sa.Table = EngagementEvent.__table__  # type: ignore[assignment]
links_t: sa.Table = TrackedLink.__table__  # type: ignore[assignment]
customers_t: sa.Table = Customer.__table__  # type: ignore[assignment]
SWEEP_LIMIT = 10_000
AnySelect = TypeVar("AnySelect", bound=sa.Select[*tuple[Any, ...]])


async def _count(conn: AsyncConnection, deltas: Deltas, now: datetime) -> Deltas:
    """The one place campaign counters change (and settled campaigns complete)."""
    await counters.apply_deltas(conn, deltas, now)
    return deltas


def _locked(conn: AsyncConnection, query: AnySelect) -> AnySelect:
    # SQLite writers hold the database's one write lock already.
    return query if conn.dialect.name == "sqlite" else query.with_for_update(of=Delivery)


# --- launch and cancel ---------------------------------------------------------------------


@dataclass(frozen=True)
class Launched:
    audience: int
    unsubscribed: int
    no_consent: int
    no_address: int


async def reach(
    conn: AsyncConnection,
    where: sa.ColumnElement[bool],
    *,
    channel: consent.ChannelName,
    message_unknown: bool,
) -> Launched:
    """Of the customers `where` matches: how many can be messaged on `channel`, and why not the rest."""
    reasons = consent.exclusions(channel, message_unknown=message_unknown)
    ok = consent.reachable(channel, message_unknown=message_unknown)

    def tally(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    row = (
        await conn.execute(
            sa.select(tally(ok), *(tally(c) for c in reasons.values())).select_from(Customer).where(where)
        )
    ).one()
    return Launched(*(int(n) for n in row))


async def create_for_launch(
    conn: AsyncConnection,
    *,
    campaign_id: int,
    where: sa.ColumnElement[bool],
    channel: consent.ChannelName,
    message_unknown: bool,
    now: datetime,
    held_out: sa.ColumnElement[bool] | None = None,
    variant: sa.ColumnElement[Any] | None = None,
    not_before: sa.ColumnElement[Any] | None = None,
    plan: timing.Plan | None = None,
) -> Launched:
    """Freeze the audience: one pending delivery per reachable match, in one statement; the
    excluded are counted by reason. The unique (campaign, customer) key keeps it to one each.
    Those `held_out` matches (the control group) get no delivery at all. With a `plan` each
    delivery waits for its customer's planned time (`next_attempt_at`), set in the same insert;
    `variant` and `not_before` are per-customer expressions for the A/B variant and, for an A/B
    test's remainder, the wait for the winner (which then makes them due at once)."""
    counted = await reach(conn, where, channel=channel, message_unknown=message_unknown)
    waits = [w for w in (not_before, None if plan is None else plan.not_before) if w is not None]
    extra: dict[str, sa.ColumnElement[Any]] = {}
    if variant is not None:
        extra["variant"] = variant
    if waits:
        # The test's remainder waits for the winner; everyone else for their planned time.
        extra["next_attempt_at"] = waits[0] if len(waits) == 1 else sa.func.coalesce(*waits)
    rows = sa.select(
        sa.literal(campaign_id, sa.BigInteger),
        Customer.id,
        sa.literal("pending"),
        sa.literal(0),
        sa.literal(now, deliveries_t.c.updated_at.type),
        *extra.values(),
    ).where(
        where,
        consent.reachable(channel, message_unknown=message_unknown),
        *([] if held_out is None else [sa.not_(held_out)]),
    )
    columns = ["campaign_id", "customer_id", "status", "attempts", "updated_at", *extra]
    if plan is not None:
        rows = plan.joined(rows)
    frozen = sa.insert(Delivery).from_select(columns, rows)
    created = int((await conn.execute(frozen)).rowcount)
    if created < 0:  # Python's sqlite3 reports no row count for a statement that starts with WITH
        created = int(
            await conn.scalar(
                sa.select(sa.func.count())
                .select_from(deliveries_t)
                .where(Delivery.campaign_id == campaign_id)
            )
            or 0
        )
    deltas = Deltas()
    deltas[campaign_id]["pending"] += created
    await _count(conn, deltas, now)
    return Launched(created, counted.unsubscribed, counted.no_consent, counted.no_address)


async def cancel(conn: AsyncConnection, *, campaign_id: int, now: datetime) -> int:
    """Every pending delivery of the campaign becomes cancelled; returns how many."""
    rows = await _move(
        conn,
        "cancel",
        sa.select(Delivery.id, Delivery.campaign_id, Delivery.status).where(
            Delivery.campaign_id == campaign_id, Delivery.status.in_(machine.sources("cancel"))
        ),
        now=now,
        values={"finished_at": now},
    )
    return rows


async def _move(
    conn: AsyncConnection,
    event: Event,
    candidates: sa.Select[int, int, str],
    *,
    now: datetime,
    values: dict[str, Any] | None = None,
) -> int:
    """Move every delivery `candidates` selects (id, campaign_id, status) by `event`, locked."""
    found = (await conn.execute(_locked(conn, candidates.order_by(Delivery.id)))).all()
    deltas = Deltas()
    ids = []
    for delivery_id, campaign_id, status in found:
        after = machine.move(event, status)
        if after is None:
            continue
        ids.append(delivery_id)
        deltas.moved(campaign_id, status, after)
    if ids:
        await conn.execute(
            sa.update(Delivery)
            .where(one_of(conn, deliveries_t.c.id, ids), Delivery.status.in_(machine.sources(event)))
            .values(status=machine.target(event), updated_at=now, **(values or {}))
        )
        await _count(conn, deltas, now)
    return len(ids)


# --- sending -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    campaign_id: int
    customer_id: int
    attempts: int
    maybe_sent: bool  # before this claim
    variant: int | None = None


@dataclass(frozen=True)
class Cap:
    """The store's frequency cap: at most `messages` campaign messages per customer in `days`."""

    messages: int
    days: float


async def claim(
    conn: AsyncConnection,
    *,
    campaign_id: int,
    limit: int,
    lease_until: datetime,
    now: datetime,
    idempotent: bool,
    cap: Cap | None = None,
) -> list[Claimed]:
    """Reserve up to `limit` due deliveries of a running campaign until `lease_until`.

    A claim counts an attempt. On a channel without idempotency keys it also marks the
    delivery maybe-sent before anything leaves, and a maybe-sent delivery is never claimed
    again: if its sender dies, `give_up_expired` makes it unknown instead of sending twice.
    With a `cap`, those whose customer already had their share are moved to `capped` in the
    same transaction and not returned (`_capped`).
    """
    waiting = (
        sa.select(Delivery.id)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status == "pending",
            Campaign.status == "running",
            # Waiting for an A/B test's winner: not before it is chosen, however late.
            sa.or_(Campaign.variant_test_percent.is_(None), Delivery.variant.is_not(None)),
        )
    )
    if not idempotent:
        waiting = waiting.where(Delivery.maybe_sent.is_(False))
    # Two reads, each in its own index's order, so neither sorts: first those whose time has
    # come (retries, best-hour plans) by the due-time index, earliest first; then a launch's
    # fresh ones, which have no time and are not in that index, in audience order (skipping
    # only those in flight or waiting for a retry).
    passes = (
        waiting.where(Delivery.next_attempt_at <= now).order_by(Delivery.next_attempt_at),
        waiting.where(Delivery.next_attempt_at.is_(None)).order_by(Delivery.id),
    )
    values: dict[str, Any] = {
        "attempts": Delivery.attempts + 1,
        "next_attempt_at": lease_until,
        "updated_at": now,
        **({} if idempotent else {"maybe_sent": True}),
    }
    claimed: list[Claimed] = []
    for due in passes:
        if len(claimed) >= limit:
            break
        due = due.limit(limit - len(claimed))
        if conn.dialect.name != "sqlite":
            due = due.with_for_update(of=Delivery, skip_locked=True)
        rows = await conn.execute(
            sa.update(Delivery)
            .where(Delivery.id.in_(due.scalar_subquery()))
            .values(**values)
            .returning(
                Delivery.id,
                Delivery.campaign_id,
                Delivery.customer_id,
                Delivery.attempts,
                Delivery.maybe_sent,
                Delivery.variant,
            )
        )
        claimed += [
            Claimed(d, c, cu, attempts, maybe_sent if idempotent else False, variant)
            for d, c, cu, attempts, maybe_sent, variant in rows
        ]
    if cap is not None and claimed:
        capped = await _capped(conn, claimed, campaign_id=campaign_id, cap=cap, now=now)
        claimed = [c for c in claimed if c.delivery_id not in capped]
    return sorted(claimed, key=lambda c: c.delivery_id)


async def _capped(
    conn: AsyncConnection, claimed: Sequence[Claimed], *, campaign_id: int, cap: Cap, now: datetime
) -> set[int]:
    """Move to `capped` the claimed deliveries whose customer already got `cap.messages`
    campaign messages within `cap.days` (sent then, or claimed by another campaign and in
    flight now); returns their ids.

    The customers' rows are locked first (PostgreSQL; SQLite has one writer anyway), so two
    workers claiming the same customer for two campaigns take turns, and the second sees the
    first's committed claim: the cap holds exactly, not just mostly."""
    customer_ids = sorted({c.customer_id for c in claimed})
    if conn.dialect.name != "sqlite":
        await conn.execute(
            sa.select(customers_t.c.id)
            .where(one_of(conn, customers_t.c.id, customer_ids))
            .order_by(customers_t.c.id)
            .with_for_update()
        )
    since = now - timedelta(days=cap.days)
    received = dict(
        (
            await conn.execute(
                sa.select(Delivery.customer_id, sa.func.count())
                .where(
                    one_of(conn, deliveries_t.c.customer_id, customer_ids),
                    Delivery.campaign_id != campaign_id,
                    sa.or_(
                        Delivery.sent_at >= since,
                        sa.and_(
                            Delivery.status == "pending",
                            Delivery.attempts > 0,
                            Delivery.next_attempt_at > now,
                        ),
                    ),
                )
                .group_by(Delivery.customer_id)
            )
        ).all()
    )
    over = [c.delivery_id for c in claimed if received.get(c.customer_id, 0) >= cap.messages]
    if over:
        await _move(
            conn,
            "cap",
            sa.select(Delivery.id, Delivery.campaign_id, Delivery.status).where(
                one_of(conn, deliveries_t.c.id, over)
            ),
            now=now,
            values={
                "finished_at": now,
                "next_attempt_at": None,
                "error": f"frequency cap: {cap.messages} messages in {cap.days:g} days",
            },
        )
    return set(over)


@dataclass(frozen=True)
class Recorded:
    sent: int
    failed: int
    unknown: int
    cancelled: int
    deferred: int


def backoff(attempts: int, at_least: float | None = None) -> float:
    """Seconds before the next try: exponential with jitter, capped at a minute."""
    delay = min(60.0, 0.5 * 2.0 ** max(attempts - 1, 0)) * random.uniform(0.8, 1.2)
    return max(delay, at_least or 0.0)


async def record(
    conn: AsyncConnection,
    claimed: Sequence[Claimed],
    outcomes: Iterable[SendOutcome],
    *,
    idempotent: bool,
    max_attempts: int,
    now: datetime,
    withdrawn: Mapping[int, str],
) -> Recorded:
    """Write what the transport did with claimed deliveries.

    Sent moves to sent; Rejected fails that delivery only. Deferred that surely never left
    goes back to pending without using up an attempt (an outage must not burn the audience;
    the error policy pauses the campaign instead). Deferred that may have left is retried
    with the same key on an idempotent channel until `max_attempts`, then unknown; on a
    channel without keys it is unknown at once. `withdrawn` ones (the customer unsubscribed
    or lost their address since launch) are cancelled with the reason. A delivery cancelled
    meanwhile stays so.
    """
    by_id = {c.delivery_id: c for c in claimed}
    outcome_of: dict[int, SendOutcome] = {o.delivery_id: o for o in outcomes if o.delivery_id in by_id}
    for delivery_id in by_id.keys() - outcome_of.keys():  # the transport said nothing: assume the worst
        outcome_of[delivery_id] = Deferred(delivery_id, "no answer for this message", maybe_sent=True)
    still = set(
        (
            await conn.execute(
                _locked(
                    conn,
                    sa.select(Delivery.id)
                    .where(one_of(conn, deliveries_t.c.id, list(by_id)), Delivery.status == "pending")
                    .order_by(Delivery.id),
                )
            )
        ).scalars()
    )
    deltas = Deltas()
    finals: list[dict[str, Any]] = []
    retries: list[dict[str, Any]] = []
    tally = {"sent": 0, "failed": 0, "unknown": 0, "cancelled": 0, "deferred": 0}

    def settle(
        delivery_id: int, event: Event, *, message_id: str | None = None, error: str | None = None
    ) -> None:
        after = machine.target(event)
        sent = after == "sent"
        finals.append(
            {
                "id": delivery_id,
                "status": after,
                "vendor_message_id": message_id,
                "error": error[:500] if error else None,
                "next_attempt_at": None,
                "sent_at": now if sent else None,
                "finished_at": None if sent else now,
                "updated_at": now,
            }
        )
        deltas.moved(by_id[delivery_id].campaign_id, "pending", after)
        tally[after] += 1

    for delivery_id in sorted(still):
        item, outcome = by_id[delivery_id], outcome_of[delivery_id]
        if delivery_id in withdrawn:
            settle(delivery_id, "cancel", error=withdrawn[delivery_id])
        elif isinstance(outcome, Sent):
            settle(delivery_id, "send", message_id=outcome.message_id)
        elif isinstance(outcome, Rejected):
            settle(delivery_id, "reject", error=outcome.reason)
        elif not outcome.maybe_sent:
            tally["deferred"] += 1
            retries.append(
                {
                    "id": delivery_id,
                    # The claim counted an attempt; one that surely never left does not count.
                    "attempts": item.attempts - 1,
                    "maybe_sent": item.maybe_sent,
                    "next_attempt_at": now + timedelta(seconds=backoff(1, outcome.retry_after)),
                    "error": outcome.reason[:500],
                    "updated_at": now,
                }
            )
        elif not idempotent or item.attempts >= max_attempts:
            final = (
                outcome.reason
                if not idempotent
                else f"{outcome.reason} (gave up after {item.attempts} attempts)"
            )
            settle(delivery_id, "give_up", error=final)  # a late receipt can still settle it
        else:
            tally["deferred"] += 1
            retries.append(
                {
                    "id": delivery_id,
                    "attempts": item.attempts,
                    "maybe_sent": True,
                    "next_attempt_at": now + timedelta(seconds=backoff(item.attempts, outcome.retry_after)),
                    "error": outcome.reason[:500],
                    "updated_at": now,
                }
            )
    await bulk_update(conn, deliveries_t, finals, key="id")
    await bulk_update(conn, deliveries_t, retries, key="id")
    sent_ids = [row["vendor_message_id"] for row in finals if row["status"] == "sent"]
    if sent_ids:
        deltas.merge(await _settle_parked(conn, message_ids=sent_ids, now=now))
        await attribution.mark_sent_after_orders(
            conn, [row["id"] for row in finals if row["status"] == "sent"]
        )
    await _count(conn, deltas, now)
    return Recorded(**tally)


async def give_up_expired(conn: AsyncConnection, *, now: datetime, campaign_ids: Sequence[int]) -> int:
    """Deliveries of these campaigns (on channels without idempotency keys) claimed, maybe
    sent, and whose lease ran out with nothing recorded (the sender died): unknown, not resent."""
    if not campaign_ids:
        return 0
    return await _move(
        conn,
        "give_up",
        sa.select(Delivery.id, Delivery.campaign_id, Delivery.status)
        .where(
            one_of(conn, deliveries_t.c.campaign_id, list(campaign_ids)),
            Delivery.status == "pending",
            Delivery.maybe_sent.is_(True),
            Delivery.next_attempt_at < now,
        )
        .limit(SWEEP_LIMIT),
        now=now,
        values={"finished_at": now, "error": "the sender stopped mid-send; not sent again"},
    )


async def expire_unconfirmed(conn: AsyncConnection, *, sent_before: datetime, now: datetime) -> int:
    """Messages sent before `sent_before` with no receipt become unknown, so their campaign can
    finish (only where receipts are expected: elsewhere `sent` is final)."""
    return await _move(
        conn,
        "expire",
        sa.select(Delivery.id, Delivery.campaign_id, Delivery.status)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Delivery.status == "sent", Delivery.sent_at < sent_before, Campaign.awaits_receipts.is_(True))
        .limit(SWEEP_LIMIT),
        now=now,
    )


# --- receipts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    applied: int
    duplicates: int
    parked: int


def _first_per_message(receipts: Iterable[Receipt]) -> dict[tuple[str, str], Receipt]:
    """One receipt per message and kind: the earliest outcome (delivered or failed) wins, as it
    would have arrived first, and the earliest open and earliest click."""
    first: dict[tuple[str, str], Receipt] = {}
    for r in sorted(receipts, key=lambda r: r.occurred_at):
        first.setdefault((r.message_id, r.status if r.status not in OUTCOMES else "outcome"), r)
    return first


async def _apply(
    conn: AsyncConnection, by_message: dict[tuple[str, str], Receipt], now: datetime
) -> tuple[int, int, Deltas, set[str]]:
    """Move the deliveries these receipts name; (applied, duplicates, deltas, message ids found)."""
    found = (
        await conn.execute(
            _locked(
                conn,
                sa.select(Delivery.id, Delivery.campaign_id, Delivery.status, Delivery.vendor_message_id)
                .where(one_of(conn, deliveries_t.c.vendor_message_id, sorted({m for m, _ in by_message})))
                .order_by(Delivery.id),
            )
        )
    ).all()
    updates, deltas, duplicates, bounced = [], Deltas(), 0, []
    engagements: list[Engagement] = []
    for delivery_id, campaign_id, status, message_id in found:
        for kind in ("opened", "clicked"):
            seen = by_message.get((str(message_id), kind))
            if seen is not None:
                engagements.append(
                    Engagement(delivery_id=delivery_id, kind=kind, occurred_at=seen.occurred_at)
                )
        receipt = by_message.get((str(message_id), "outcome"))
        if receipt is None:
            continue
        event: Event = "deliver" if receipt.status == "delivered" else "bounce"
        after = machine.move(event, status)
        if after is None:
            duplicates += 1  # already final: receipts never move a delivery backwards
            continue
        updates.append(
            {
                "id": delivery_id,
                "status": after,
                "error": receipt.reason,
                "finished_at": receipt.occurred_at,
                "updated_at": now,
            }
        )
        deltas.moved(campaign_id, status, after)
        if after == "failed":
            bounced.append(delivery_id)
    await bulk_update(conn, deliveries_t, updates, key="id")
    # A bounce takes back the credit a message had for orders placed after it.
    await attribution.mark_sent_after_orders(conn, bounced)
    applied, engagement_deltas = await _engage(conn, engagements, now=now)
    deltas.merge(engagement_deltas)
    duplicates += len(engagements) - applied
    return len(updates) + applied, duplicates, deltas, {str(row[3]) for row in found}


async def _engage(
    conn: AsyncConnection, events: Sequence[Engagement], *, now: datetime
) -> tuple[int, Deltas]:
    """Store opens and clicks and mark their deliveries' first open and click; returns (events
    that were new, deltas). A click is an open too. Marks are set once and only ever move
    earlier, so duplicates and any arrival order give the same rows; the status is not touched."""
    if not events:
        return 0, Deltas()
    ids = sorted({e.delivery_id for e in events})
    found = {
        row[0]: row
        for row in (
            await conn.execute(
                _locked(
                    conn,
                    sa.select(Delivery.id, Delivery.campaign_id, Delivery.opened_at, Delivery.clicked_at)
                    .where(one_of(conn, deliveries_t.c.id, ids))
                    .order_by(Delivery.id),
                )
            )
        ).all()
    }
    mine: dict[int, list[Engagement]] = {}
    for e in events:
        if e.delivery_id in found:
            mine.setdefault(e.delivery_id, []).append(e)
    rows = {
        (e.delivery_id, e.kind, e.link_id, e.occurred_at): {
            "delivery_id": e.delivery_id,
            "campaign_id": found[e.delivery_id][1],
            "kind": e.kind,
            "link_id": e.link_id,
            "occurred_at": e.occurred_at,
            "received_at": now,
        }
        for events_of in mine.values()
        for e in events_of
    }
    stored = {
        tuple(row)
        for row in (
            await conn.execute(
                sa.select(
                    events_t.c.delivery_id, events_t.c.kind, events_t.c.link_id, events_t.c.occurred_at
                ).where(one_of(conn, events_t.c.delivery_id, sorted(mine)))
            )
        )
    }
    await bulk_upsert(
        conn, events_t, [rows[k] for k in sorted(rows)], key="delivery_id, kind, link_id, occurred_at"
    )
    deltas = Deltas()
    marks: list[dict[str, Any]] = []
    for delivery_id, events_of in mine.items():
        _, campaign_id, opened_at, clicked_at = found[delivery_id]
        opened = min([opened_at, *(e.occurred_at for e in events_of)], key=lambda t: (t is None, t))
        clicks = [e.occurred_at for e in events_of if e.kind == "clicked"]
        clicked = min([clicked_at, *clicks], key=lambda t: (t is None, t))
        if (opened, clicked) == (opened_at, clicked_at):
            continue
        deltas[campaign_id]["opened"] += opened_at is None
        deltas[campaign_id]["clicked"] += clicked_at is None and clicked is not None
        marks.append({"id": delivery_id, "opened_at": opened, "clicked_at": clicked, "updated_at": now})
    await bulk_update(conn, deliveries_t, sorted(marks, key=lambda m: m["id"]), key="id")
    return len(rows.keys() - stored), deltas


async def apply_engagement(conn: AsyncConnection, events: Sequence[Engagement], *, now: datetime) -> int:
    """Opens and clicks we saw ourselves (tracked links, the open pixel); returns how many were new."""
    applied, deltas = await _engage(conn, events, now=now)
    await _count(conn, deltas, now)
    return applied


async def apply_receipts(conn: AsyncConnection, receipts: Sequence[Receipt], *, now: datetime) -> Applied:
    """Apply receipts: idempotent and forward-only. One for a message not recorded yet (the
    vendor can be faster than our bookkeeping) is parked until it is."""
    by_message = _first_per_message(receipts)
    applied, duplicates, deltas, known = await _apply(conn, by_message, now)
    parked = [
        {
            "message_id": r.message_id,
            "status": r.status,
            "reason": r.reason,
            "occurred_at": r.occurred_at,
            "received_at": now,
        }
        for (mid, _), r in sorted(by_message.items())
        if mid not in known
    ]
    # An earlier receipt of the same kind wins over a parked later one, as `_first_per_message` does.
    await bulk_upsert(
        conn,
        parked_t,
        parked,
        key="message_id, status",
        set_={
            "occurred_at": "excluded.occurred_at",
            "reason": "excluded.reason",
            "received_at": "excluded.received_at",
        },
        where=f"excluded.occurred_at < {parked_t.name}.occurred_at",
    )
    await _count(conn, deltas, now)
    return Applied(
        applied=applied, duplicates=duplicates + len(receipts) - len(by_message), parked=len(parked)
    )


# A send is recorded seconds after the vendor took it, or never (a worker killed mid-send
# leaves it `unknown`), and a test send has no delivery at all: a receipt still parked after
# this long has no message to wait for.
PARKED_RETENTION = timedelta(days=2)


async def _settle_parked(conn: AsyncConnection, *, message_ids: list[str] | None, now: datetime) -> Deltas:
    query = (
        sa.select(
            ParkedReceipt.message_id, ParkedReceipt.status, ParkedReceipt.reason, ParkedReceipt.occurred_at
        )
        .join(Delivery, Delivery.vendor_message_id == ParkedReceipt.message_id)
        .order_by(ParkedReceipt.message_id, ParkedReceipt.status)
        .limit(SWEEP_LIMIT)
    )
    if message_ids is not None:
        query = query.where(one_of(conn, parked_t.c.message_id, message_ids))
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(of=ParkedReceipt, skip_locked=True)
    rows = (await conn.execute(query)).all()
    if not rows:
        return Deltas()
    receipts = [Receipt(message_id=m, status=s, reason=r, occurred_at=o) for m, s, r, o in rows]
    _, _, deltas, _ = await _apply(conn, _first_per_message(receipts), now)
    settled = sorted({(r[0], r[1]) for r in rows})
    await conn.execute(
        sa.delete(ParkedReceipt).where(sa.tuple_(ParkedReceipt.message_id, ParkedReceipt.status).in_(settled))
    )
    return deltas


async def settle_parked(conn: AsyncConnection, *, now: datetime) -> int:
    """Apply, then forget, parked receipts whose message has since been recorded as sent, and
    forget those parked longer than PARKED_RETENTION.

    `record` settles the ones it can see; a receipt parked by a transaction that commits just
    after the send was recorded is invisible to it, and a periodic pass closes that gap."""
    deltas = await _settle_parked(conn, message_ids=None, now=now)
    await conn.execute(sa.delete(ParkedReceipt).where(ParkedReceipt.received_at < now - PARKED_RETENTION))
    await _count(conn, deltas, now)
    return sum(n for changes in deltas.values() for name, n in changes.items() if n > 0)


# --- tracked links ---------------------------------------------------------------------------


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


async def upsert_links(conn: AsyncConnection, *, campaign_id: int, urls: Sequence[str]) -> dict[str, int]:
    """The link id of each URL of the campaign, stored if new: one statement for all of them.

    The no-op update makes RETURNING name the rows that were already there as well; rows are
    taken in hash order so two senders storing the same URLs cannot deadlock."""
    if not urls:
        return {}
    hashes = {url_hash(u): u for u in urls}
    rows = [{"campaign_id": campaign_id, "url_hash": h, "url": hashes[h]} for h in sorted(hashes)]
    insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
    values = insert(TrackedLink).values(rows)
    statement = values.on_conflict_do_update(
        index_elements=[TrackedLink.campaign_id, TrackedLink.url_hash],
        set_={"url": values.excluded.url},
    ).returning(TrackedLink.id, TrackedLink.url_hash)
    return {hashes[h]: int(link_id) for link_id, h in await conn.execute(statement)}


async def link_by_id(conn: AsyncConnection, link_id: int) -> tuple[int, str] | None:
    """(campaign id, URL) of a tracked link, or None."""
    row = (
        await conn.execute(
            sa.select(TrackedLink.campaign_id, TrackedLink.url).where(TrackedLink.id == link_id)
        )
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))
