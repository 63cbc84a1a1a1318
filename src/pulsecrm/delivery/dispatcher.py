"""The dispatcher: claims pending deliveries, renders them, sends them to the vendor in batches.

At most one message per customer per campaign, even across crashes: a delivery is claimed
with a lease (its `next_attempt_at`) in one committed statement, sent with the idempotency
key `pulse-<delivery id>`, and recorded afterwards. If the sender dies in between, the lease
runs out, another sender claims it again and the vendor answers the same message id for
the same key, so the customer gets one message and the log records it once.

Only running campaigns are claimed, so a pause stops sending after the batch in flight.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm import metrics
from pulsecrm.campaigns import counters, templates
from pulsecrm.campaigns.models import Campaign
from pulsecrm.config import Settings
from pulsecrm.customers.models import Customer
from pulsecrm.db import Database, bulk_update, one_of, utcnow
from pulsecrm.delivery import receipts as receipt_lang
from pulsecrm.delivery.models import Delivery, ParkedReceipt
from pulsecrm.failures import Failure, OutageLog, classify

log = logging.getLogger(__name__)
deliveries_t: sa.Table = Delivery.__table__  # type: ignore[assignment]
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass
class Claimed:
    delivery_id: int
    campaign_id: int
    customer_id: int
    attempts: int
    maybe_sent: bool


@dataclass
class Outcome:
    """What one vendor call did to a batch of deliveries."""

    sent: dict[int, str] = field(default_factory=dict)  # delivery id -> vendor message id
    failed: dict[int, str] = field(default_factory=dict)  # delivery id -> reason (final)
    retry: dict[int, tuple[float, str]] = field(default_factory=dict)  # id -> (delay s, reason)
    unknown: dict[int, str] = field(default_factory=dict)  # gave up, but the vendor may have it
    ambiguous: set[int] = field(default_factory=set)  # this attempt may have reached the vendor


class RateLimiter:
    """Per-campaign token buckets: how many messages a campaign may send right now."""

    def __init__(self) -> None:
        self._buckets: dict[int, tuple[float, float]] = {}  # campaign -> (tokens, at)

    def allowance(self, campaign_id: int, rate: int | None, wanted: int) -> int:
        if rate is None:
            return wanted
        tokens, at = self._buckets.get(campaign_id, (float(rate), time.monotonic()))
        now = time.monotonic()
        tokens = min(float(rate), tokens + (now - at) * rate)
        granted = min(wanted, int(tokens))
        self._buckets[campaign_id] = (tokens - granted, now)
        return granted


class Dispatcher:
    def __init__(
        self, db: Database, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.client = httpx.AsyncClient(
            base_url=settings.vendor_url,
            timeout=settings.delivery_timeout_seconds,
            transport=transport,
            limits=httpx.Limits(max_connections=8),
        )
        self.rates = RateLimiter()
        self.outage = OutageLog(log, "dispatcher: the database")

    async def close(self) -> None:
        await self.client.aclose()

    async def run(self, stop: asyncio.Event) -> None:
        next_sweep = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_sweep:
                    await self.mark_unconfirmed()
                    next_sweep = time.monotonic() + 10
                await self.reconcile_parked()
                if not await self.run_once():
                    await asyncio.wait([asyncio.ensure_future(stop.wait())], timeout=0.2)
                self.outage.succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if classify(exc) is Failure.OUTAGE:
                    self.outage.failed(exc)  # logged once per outage, not once a second
                else:
                    log.exception("dispatcher pass failed; retrying")
                await asyncio.sleep(1)

    async def run_once(self) -> int:
        """One pass over running campaigns; returns how many messages it handled."""
        async with self.db.read() as session:
            campaigns = list(
                await session.scalars(
                    sa.select(Campaign)
                    .where(Campaign.status == "running", Campaign.pending > 0)
                    .order_by(Campaign.id)
                )
            )
        # Up to `delivery_concurrency` batches in flight: rendering here overlaps the vendor's
        # and the database's work. A pause lets only these already-claimed batches finish.
        sends: list[tuple[Campaign, list[Claimed]]] = []
        for campaign in campaigns:
            while len(sends) < self.settings.delivery_concurrency:
                room = self.rates.allowance(
                    campaign.id, campaign.rate_limit, self.settings.delivery_batch_size
                )
                if room <= 0:
                    break
                claimed = await self.claim(campaign.id, room)
                if not claimed:
                    break
                sends.append((campaign, claimed))
        await asyncio.gather(*(self.send(campaign, claimed) for campaign, claimed in sends))
        return sum(len(claimed) for _, claimed in sends)

    async def claim(self, campaign_id: int, limit: int) -> list[Claimed]:
        """Reserve up to `limit` due deliveries of a running campaign, committed before sending."""
        now = utcnow()
        lease_until = now + timedelta(seconds=self.settings.delivery_lease_seconds)

        async def work(conn: AsyncConnection) -> list[Claimed]:
            due = (
                sa.select(Delivery.id)
                .join(Campaign, Campaign.id == Delivery.campaign_id)
                .where(
                    Delivery.campaign_id == campaign_id,
                    Delivery.status == "pending",
                    Campaign.status == "running",
                    sa.or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
                )
                .order_by(Delivery.id)
                .limit(limit)
            )
            if conn.dialect.name != "sqlite":
                due = due.with_for_update(of=Delivery, skip_locked=True)
            rows = await conn.execute(
                sa.update(Delivery)
                .where(Delivery.id.in_(due.scalar_subquery()))
                .values(attempts=Delivery.attempts + 1, next_attempt_at=lease_until, updated_at=now)
                .returning(
                    Delivery.id,
                    Delivery.campaign_id,
                    Delivery.customer_id,
                    Delivery.attempts,
                    Delivery.maybe_sent,
                )
            )
            return sorted((Claimed(*row) for row in rows), key=lambda c: c.delivery_id)

        return await self.db.write(work)

    async def send(self, campaign: Campaign, claimed: list[Claimed]) -> None:
        async with self.db.read() as session:
            people = {
                c.id: c
                for c in await session.scalars(
                    sa.select(Customer).where(Customer.id.in_([c.customer_id for c in claimed]))
                )
            }
        outcome = Outcome()
        messages: list[dict[str, Any]] = []
        batch: list[Claimed] = []
        for item in claimed:
            customer = people.get(item.customer_id)
            to = (
                None
                if customer is None
                else (customer.email if campaign.channel == "email" else customer.phone)
            )
            if not to:
                outcome.failed[item.delivery_id] = (
                    f"no {'e-mail address' if campaign.channel == 'email' else 'phone number'}"
                )
                continue
            try:
                context = templates.context_for(customer)
                body = templates.render(campaign.message, context)
                subject = templates.render(campaign.subject, context) if campaign.subject else None
            except Exception as exc:  # a template that rendered for the sample can still fail here
                outcome.failed[item.delivery_id] = f"could not render the message: {exc}"[:500]
                continue
            messages.append(
                {
                    "idempotency_key": idempotency_key(item.delivery_id),
                    "to": to,
                    "channel": campaign.channel,
                    "subject": subject,
                    "body": body,
                }
            )
            batch.append(item)
        if batch:
            await self._call_vendor(batch, messages, outcome)
        await self.record(claimed, outcome)

    async def _call_vendor(
        self, batch: list[Claimed], messages: list[dict[str, Any]], outcome: Outcome
    ) -> None:
        started = time.perf_counter()
        try:
            response = await self.client.post("/v1/messages/batch", json={"messages": messages})
        except httpx.ConnectError as exc:  # never reached the vendor
            metrics.vendor_call(time.perf_counter() - started, "unreachable")
            self._retry_or_fail(batch, f"vendor unreachable: {type(exc).__name__}", outcome, None)
            return
        except httpx.HTTPError as exc:  # sent, no answer: the vendor may have accepted it
            metrics.vendor_call(time.perf_counter() - started, "timeout")
            outcome.ambiguous.update(item.delivery_id for item in batch)
            self._retry_or_fail(batch, f"no answer from the vendor: {type(exc).__name__}", outcome, None)
            return
        ok = response.status_code == 200
        metrics.vendor_call(time.perf_counter() - started, None if ok else f"http_{response.status_code}")
        log.info("vendor call: %d messages, answered %d", len(batch), response.status_code)
        if ok:
            ids = {r["idempotency_key"]: r["message_id"] for r in response.json()["results"]}
            for item in batch:
                message_id = ids.get(idempotency_key(item.delivery_id))
                if message_id:
                    outcome.sent[item.delivery_id] = message_id
                else:
                    self._retry_or_fail([item], "vendor did not answer for this message", outcome, None)
            return
        reason = f"vendor answered {response.status_code}"
        if response.status_code in RETRYABLE_STATUS:
            retry_after = response.headers.get("retry-after")
            delay = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None
            self._retry_or_fail(batch, reason, outcome, delay)
        else:
            for item in batch:
                outcome.failed[item.delivery_id] = f"{reason}: {response.text[:200]}"

    def _retry_or_fail(
        self, batch: Sequence[Claimed], reason: str, outcome: Outcome, delay: float | None
    ) -> None:
        for item in batch:
            if item.attempts >= self.settings.delivery_max_attempts:
                final = f"{reason} (gave up after {item.attempts} attempts)"
                if item.maybe_sent or item.delivery_id in outcome.ambiguous:
                    outcome.unknown[item.delivery_id] = final  # a late receipt can still settle it
                else:
                    outcome.failed[item.delivery_id] = final
            else:
                backoff = min(60.0, 0.5 * 2 ** (item.attempts - 1)) * random.uniform(0.8, 1.2)
                outcome.retry[item.delivery_id] = (max(backoff, delay or 0.0), reason)

    async def record(self, claimed: list[Claimed], outcome: Outcome) -> None:
        """Write a vendor call's results, counters and any receipts that came in early."""
        campaign_of = {c.delivery_id: c.campaign_id for c in claimed}
        maybe_sent = {c.delivery_id: c.maybe_sent for c in claimed}
        now = utcnow()

        async def work(conn: AsyncConnection) -> None:
            # Only deliveries still pending move: a cancel in the meantime wins.
            ids = list(campaign_of)
            still = set(
                (
                    await conn.execute(
                        sa.select(Delivery.id).where(
                            one_of(conn, deliveries_t.c.id, ids), Delivery.status == "pending"
                        )
                    )
                ).scalars()
            )
            changes = counters.deltas()
            rows: list[dict[str, Any]] = []

            def settle(
                delivery_id: int, status: str, *, message_id: str | None = None, error: str | None = None
            ) -> None:
                """Move a still-pending delivery out of pending, and its campaign's counters with it."""
                if delivery_id not in still:
                    return
                sent = status == "sent"
                rows.append(
                    {
                        "id": delivery_id,
                        "status": status,
                        "vendor_message_id": message_id,
                        "error": error[:500] if error else None,
                        "next_attempt_at": None,
                        "sent_at": now if sent else None,
                        "finished_at": None if sent else now,
                        "updated_at": now,
                    }
                )
                changes[campaign_of[delivery_id]]["pending"] -= 1
                changes[campaign_of[delivery_id]][status] += 1

            for delivery_id, message_id in outcome.sent.items():
                settle(delivery_id, "sent", message_id=message_id)
            for delivery_id, reason in outcome.failed.items():
                settle(delivery_id, "failed", error=reason)
            for delivery_id, reason in outcome.unknown.items():
                settle(delivery_id, "unknown", error=reason)
            await bulk_update(conn, deliveries_t, rows, key="id")
            retries = [
                {
                    "id": delivery_id,
                    "next_attempt_at": now + timedelta(seconds=delay),
                    "error": reason[:500],
                    "maybe_sent": delivery_id in outcome.ambiguous or maybe_sent[delivery_id],
                    "updated_at": now,
                }
                for delivery_id, (delay, reason) in outcome.retry.items()
                if delivery_id in still
            ]
            await bulk_update(conn, deliveries_t, retries, key="id")
            await counters.apply_deltas(conn, changes, now)
            sent_ids = [r["vendor_message_id"] for r in rows if r["status"] == "sent"]
            if sent_ids:
                await settle_parked(conn, message_ids=sent_ids)

        await self.db.write(work)

    async def reconcile_parked(self) -> int:
        """Apply parked receipts whose message has since been recorded as sent.

        The fast path in `record` can miss one: a receipt parked by a transaction that commits
        just after the send was recorded is invisible to it. Each pass closes that gap.
        """

        async def work(conn: AsyncConnection) -> int:
            return await settle_parked(conn)

        return await self.db.write(work)

    async def mark_unconfirmed(self) -> int:
        """Messages sent long ago with no receipt become `unknown`, so their campaign can finish."""
        cutoff = utcnow() - timedelta(seconds=self.settings.delivery_unconfirmed_seconds)
        now = utcnow()

        async def work(conn: AsyncConnection) -> int:
            stale = (
                sa.select(Delivery.id)
                .where(Delivery.status == "sent", Delivery.sent_at < cutoff)
                .limit(10_000)
            )
            if conn.dialect.name != "sqlite":
                stale = stale.with_for_update(skip_locked=True)
            rows = (
                await conn.execute(
                    sa.update(Delivery)
                    .where(Delivery.id.in_(stale.scalar_subquery()))
                    .values(status="unknown", updated_at=now)
                    .returning(Delivery.campaign_id)
                )
            ).all()
            changes = counters.deltas()
            for (campaign_id,) in rows:
                changes[campaign_id]["sent"] -= 1
                changes[campaign_id]["unknown"] += 1
            await counters.apply_deltas(conn, changes, now)
            return len(rows)

        return await self.db.write(work)


async def settle_parked(conn: AsyncConnection, *, message_ids: list[str] | None = None) -> int:
    """Apply, then forget, parked receipts whose message is now recorded (only `message_ids`,
    if given); the caller owns the transaction."""
    parked_t: sa.Table = ParkedReceipt.__table__  # type: ignore[assignment]
    query = (
        sa.select(
            ParkedReceipt.message_id, ParkedReceipt.status, ParkedReceipt.reason, ParkedReceipt.occurred_at
        )
        .join(Delivery, Delivery.vendor_message_id == ParkedReceipt.message_id)
        .order_by(ParkedReceipt.message_id)
        .limit(10_000)
    )
    if message_ids is not None:
        query = query.where(one_of(conn, parked_t.c.message_id, message_ids))
    if conn.dialect.name != "sqlite":
        query = query.with_for_update(of=ParkedReceipt, skip_locked=True)
    rows = (await conn.execute(query)).all()
    if not rows:
        return 0
    await receipt_lang.apply(
        conn, [receipt_lang.Receipt(message_id=m, status=s, reason=r, occurred_at=o) for m, s, r, o in rows]
    )
    await conn.execute(
        sa.delete(ParkedReceipt).where(one_of(conn, parked_t.c.message_id, [r[0] for r in rows]))
    )
    return len(rows)


def idempotency_key(delivery_id: int) -> str:
    return f"pulse-{delivery_id}"
