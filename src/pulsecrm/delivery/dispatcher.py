"""The dispatcher: a pipeline of small steps over a store (`delivery.store`) and channels.

    running campaigns -> rate grant -> claim -> render -> track links -> channel.send_batch -> record
                                                                                          \\-> error policy

At most one message per customer per campaign, even across crashes: a delivery is claimed
with a lease in one committed statement, sent, and recorded afterwards. On an idempotent
channel (the vendor) a sender that died is retried after the lease with the same key and the
vendor drops the duplicate; on one without keys (SMTP) the claim marks it maybe-sent, and an
expired lease makes it `unknown`, never a second message.

Only running campaigns are claimed, so a pause stops sending after the batches in flight. A
transport that keeps deferring pauses the campaign (`delivery.policy`); paused campaigns'
transports are probed and, when they answer, the campaigns resume by themselves.

Timing: beside the sending loop a scheduler task starts scheduled campaigns whose time has
come (`fire_due`, the normal launch under the campaign's row lock, so many dispatchers start
each once); a channel in its
quiet hours is not claimed from (`delivery.quiet`); a claim leaves out, as `capped`, customers
over the store's frequency cap. The time comes from `clock`, which tests set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import redis.asyncio as aioredis
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from pulsecrm import metrics
from pulsecrm.campaigns import service as campaign_service
from pulsecrm.campaigns import templates, variants
from pulsecrm.campaigns.models import Campaign
from pulsecrm.config import Settings
from pulsecrm.customers import consent, links
from pulsecrm.customers.models import Customer
from pulsecrm.db import Database, one_of, utcnow
from pulsecrm.delivery import quiet, store
from pulsecrm.delivery.channels import Channel, ChannelName, Deferred, OutboundMessage, Rejected, SendOutcome
from pulsecrm.delivery.channels.registry import build_channels, close_channels
from pulsecrm.delivery.policy import ErrorPolicy
from pulsecrm.delivery.ratelimit import Bucket, DatabaseRateLimiter, RateLimiter, RedisRateLimiter
from pulsecrm.delivery.tracking import LinkTracker
from pulsecrm.failures import Failure, OutageLog, classify
from pulsecrm.segments.catalog import CatalogCache

log = logging.getLogger(__name__)
customers_t: sa.Table = Customer.__table__  # type: ignore[assignment]
SWEEP_SECONDS = 10.0
# The sending loop's rest after a pass with nothing to send: the first, doubling to the last.
IDLE_SECONDS = (0.05, 0.5)
SCHEDULER_POLL_SECONDS = 0.1  # how often due scheduled campaigns are looked for
FIRE_CONCURRENCY = 4


class Dispatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        channels: Mapping[ChannelName, Channel],
        limiter: RateLimiter,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.channels = channels
        self.limiter = limiter
        self.clock = clock
        self.catalog = CatalogCache()
        self.cap = (
            store.Cap(settings.frequency_cap_messages, settings.frequency_cap_days)
            if settings.frequency_cap_messages
            else None
        )
        self.policy = ErrorPolicy(
            after_failed_batches=settings.delivery_pause_after_failed_batches,
            error_rate=settings.delivery_pause_error_rate,
            window_seconds=settings.delivery_error_window_seconds,
        )
        self.outage = OutageLog(log, "dispatcher: the database")
        self.tracker = LinkTracker(db, settings)
        self._next_probe = 0.0
        self._wake = asyncio.Event()  # set by the scheduler when it starts a campaign

    @classmethod
    def build(
        cls,
        db: Database,
        settings: Settings,
        redis: aioredis.Redis | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> Dispatcher:
        """The transports the settings choose, and rate buckets shared through Redis when there
        is one (else through the database)."""
        limiter: RateLimiter = (
            RedisRateLimiter(redis, settings.redis_prefix) if redis is not None else DatabaseRateLimiter(db)
        )
        return cls(
            db, settings, channels=build_channels(settings, transport=transport), limiter=limiter, clock=clock
        )

    async def close(self) -> None:
        await close_channels(self.channels)

    async def run(self, stop: asyncio.Event) -> None:
        scheduler = asyncio.create_task(self.run_scheduler(stop))
        try:
            await self._run(stop)
        finally:
            scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scheduler

    async def run_scheduler(self, stop: asyncio.Event) -> None:
        """Start scheduled campaigns when due, beside the sending loop, so a long sending pass
        never delays a start."""
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                try:
                    fired = await self.fire_due()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if classify(exc) is not Failure.OUTAGE:  # an outage is the sending loop's to log
                        log.exception("scheduler pass failed; retrying")
                    await asyncio.wait([stopped], timeout=1)
                    continue
                if fired:
                    self._wake.set()  # the sending loop may be resting: its first send is due now
                else:
                    await asyncio.wait([stopped], timeout=SCHEDULER_POLL_SECONDS)
        finally:
            stopped.cancel()

    async def _run(self, stop: asyncio.Event) -> None:
        next_sweep = 0.0
        rest = IDLE_SECONDS[0]
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                try:
                    if time.monotonic() >= next_sweep:
                        await self.sweep()
                        next_sweep = time.monotonic() + SWEEP_SECONDS
                    await self.reconcile_parked()
                    if time.monotonic() >= self._next_probe:
                        await self.probe_paused()
                        self._next_probe = time.monotonic() + self.settings.delivery_probe_seconds
                    sent = await self.run_once()
                    self.outage.succeeded()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if classify(exc) is Failure.OUTAGE:
                        self.outage.failed(exc)  # logged once per outage, not once a second
                    else:
                        log.exception("dispatcher pass failed; retrying")
                    await asyncio.sleep(1)
                    continue
                if sent:
                    rest = IDLE_SECONDS[0]
                    continue
                # Nothing to send: rest longer each time, up to IDLE_SECONDS[1]. Twenty passes a
                # second cost an idle worker a sixth of a core; a campaign the scheduler starts
                # wakes the loop at once, one launched elsewhere waits at most the longest rest.
                woken = asyncio.ensure_future(self._wake.wait())
                try:
                    await asyncio.wait([stopped, woken], timeout=rest, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    woken.cancel()
                self._wake.clear()
                rest = min(rest * 2, IDLE_SECONDS[1])
        finally:
            stopped.cancel()

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
        # Up to `delivery_concurrency` batches in flight: rendering overlaps the transport's and
        # the database's work. A pause lets only these already-claimed batches finish.
        sends: list[tuple[Campaign, list[store.Claimed]]] = []
        for campaign in campaigns:
            if self.quiet_until(campaign) is not None:
                continue  # its messages wait for the channel's quiet hours to end
            channel = self.channels[campaign_service.channel_of(campaign)]
            while len(sends) < self.settings.delivery_concurrency:
                room = await self.limiter.take(self.buckets(campaign), self.settings.delivery_batch_size)
                if room <= 0:
                    break
                claimed = await self.claim(campaign.id, room, idempotent=channel.idempotent)
                if not claimed:
                    break
                sends.append((campaign, claimed))
        await asyncio.gather(*(self.send(campaign, claimed) for campaign, claimed in sends))
        return sum(len(claimed) for _, claimed in sends)

    def buckets(self, campaign: Campaign) -> list[Bucket]:
        """The campaign's own rate, and its channel's ceiling across every campaign and worker."""
        buckets = []
        if campaign.rate_limit:
            buckets.append(Bucket(f"campaign:{campaign.id}", float(campaign.rate_limit)))
        ceiling = self.settings.email_max_rate if campaign.channel == "email" else self.settings.sms_max_rate
        if ceiling:
            buckets.append(Bucket(f"channel:{campaign.channel}", float(ceiling)))
        return buckets

    def quiet_until(self, campaign: Campaign) -> datetime | None:
        """When the quiet hours of the campaign's channel end, if it is in them now."""
        return quiet.for_channel(self.clock(), campaign.channel, self.settings)

    async def fire_due(self) -> int:
        """Launch the scheduled campaigns whose time has come; returns how many this one fired."""
        async with self.db.read() as session:
            due = await campaign_service.due_scheduled(session, now=self.clock())
        room = asyncio.Semaphore(FIRE_CONCURRENCY)  # a launch mostly waits on the database

        async def start(campaign_id: int) -> bool:
            async with room:
                try:
                    async with self.db.write_session() as session:
                        campaign = await campaign_service.fire(
                            session,
                            campaign_id,
                            await self.catalog.get(session),
                            settings=self.settings,
                            now=self.clock(),
                        )
                        await session.commit()
                except Exception as exc:
                    if classify(exc) is Failure.OUTAGE:
                        raise
                    log.exception("scheduled campaign %d could not start; trying again", campaign_id)
                    return False
            if campaign is None:  # another dispatcher started it, or it was cancelled meanwhile
                return False
            log.info("scheduled campaign %d started: %d messages", campaign_id, campaign.audience)
            return True

        return sum(await asyncio.gather(*(start(campaign_id) for campaign_id in due)))

    async def claim(self, campaign_id: int, limit: int, *, idempotent: bool = True) -> list[store.Claimed]:
        now = self.clock()
        lease_until = now + timedelta(seconds=self.settings.delivery_lease_seconds)

        async def work(conn: AsyncConnection) -> list[store.Claimed]:
            return await store.claim(
                conn,
                campaign_id=campaign_id,
                limit=limit,
                lease_until=lease_until,
                now=now,
                idempotent=idempotent,
                cap=self.cap,
            )

        return await self.db.write(work)

    async def send(self, campaign: Campaign, claimed: list[store.Claimed]) -> store.Recorded:
        channel_name = campaign_service.channel_of(campaign)
        channel = self.channels[channel_name]
        async with self.db.engine.connect() as conn:
            # Plain rows, not ORM objects: a thousand customers per batch, read and dropped.
            people: dict[int, Any] = {
                row.id: row
                for row in await conn.execute(
                    sa.select(*customers_t.c).where(
                        one_of(conn, customers_t.c.id, [c.customer_id for c in claimed])
                    )
                )
            }
        early: list[SendOutcome] = []
        withdrawn: dict[int, str] = {}
        messages: list[OutboundMessage] = []
        for item in claimed:
            customer = people.get(item.customer_id)
            why_not = self.not_reachable(customer, channel_name)
            if why_not is not None or customer is None:
                # Reachable at launch, not any more: cancelled with the reason, never failed.
                withdrawn[item.delivery_id] = why_not or "the customer was deleted"
                continue
            address = str(getattr(customer, consent.address_column(channel_name).key))
            try:
                context = templates.context_for(customer)
                message, subject_template = variants.variant_of(campaign, item.variant)
                body = templates.render(message, context)
                subject = templates.render(subject_template, context) if subject_template else None
            except Exception as exc:  # a template that rendered for the sample can still fail here
                early.append(Rejected(item.delivery_id, f"could not render the message: {exc}"[:500]))
                continue
            messages.append(
                OutboundMessage(
                    delivery_id=item.delivery_id,
                    campaign_id=campaign.id,
                    channel=channel_name,
                    to=address,
                    body=body,
                    subject=subject,
                    # One click opts the recipient out of this channel (`List-Unsubscribe` for e-mail).
                    unsubscribe_url=links.unsubscribe_url(self.settings, customer.id, channel_name)
                    if channel_name == "email"
                    else None,
                )
            )
        if messages:
            # Links become /r/<token>, e-mails get the open pixel; one upsert for new URLs.
            messages = await self.tracker.track(messages)
        outcomes = await channel.send_batch(messages) if messages else []
        recorded = await self.record(
            claimed, [*early, *outcomes], idempotent=channel.idempotent, withdrawn=withdrawn
        )
        deferred = [o for o in outcomes if isinstance(o, Deferred)]
        reason = self.policy.observe(
            campaign.id,
            messages=len(messages),
            deferred=len(deferred),
            reason=deferred[-1].reason if deferred else None,
        )
        if reason is not None:
            await self.pause(campaign, reason)
        return recorded

    def not_reachable(self, customer: Any, channel: ChannelName) -> str | None:
        """Why a customer reachable at launch may not be messaged now (they unsubscribed, opted
        out or lost their address since), or None."""
        if customer is None:
            return "the customer was deleted"
        if customer.unsubscribed_at is not None:
            return "unsubscribed after launch"
        state = getattr(customer, consent.consent_column(channel).key)
        if state == "opted_out" or (state == "unknown" and not self.settings.message_unknown_consent):
            return "consent withdrawn after launch"
        if not getattr(customer, consent.address_column(channel).key):
            return "no address for the channel any more"
        return None

    async def record(
        self,
        claimed: list[store.Claimed],
        outcomes: list[SendOutcome],
        *,
        idempotent: bool = True,
        withdrawn: Mapping[int, str] | None = None,
    ) -> store.Recorded:
        now = self.clock()

        async def work(conn: AsyncConnection) -> store.Recorded:
            return await store.record(
                conn,
                claimed,
                outcomes,
                idempotent=idempotent,
                max_attempts=self.settings.delivery_max_attempts,
                now=now,
                withdrawn=withdrawn or {},
            )

        return await self.db.write(work)

    async def pause(self, campaign: Campaign, reason: str) -> None:
        now = utcnow()

        async def work(conn: AsyncConnection) -> bool:
            return await campaign_service.pause_for_errors(conn, campaign.id, reason=reason, now=now)

        if await self.db.write(work):
            metrics.campaign_paused("error_policy")
            log.warning("campaign %d paused by the error policy: %s", campaign.id, reason)
        self.policy.forget(campaign.id)

    async def probe_paused(self) -> int:
        """Ask the transports of campaigns the policy paused whether they are back; resume those
        whose transport answers (when configured to). Returns how many resumed."""
        if not self.settings.delivery_auto_resume:
            return 0
        async with self.db.read() as session:
            paused = list(
                await session.scalars(
                    sa.select(Campaign).where(
                        Campaign.status == "paused", Campaign.paused_by_policy.is_(True)
                    )
                )
            )
        by_channel: dict[int, list[int]] = {}
        transports: dict[int, Channel] = {}
        for campaign in paused:
            channel = self.channels[campaign_service.channel_of(campaign)]
            by_channel.setdefault(id(channel), []).append(campaign.id)
            transports[id(channel)] = channel
        ready = [
            cid
            for key, channel in transports.items()
            if await channel.probe() is None
            for cid in by_channel[key]
        ]
        if not ready:
            return 0
        now = utcnow()

        async def work(conn: AsyncConnection) -> int:
            return await campaign_service.resume_after_errors(conn, ready, now=now)

        resumed = await self.db.write(work)
        for campaign_id in ready:
            self.policy.forget(campaign_id)
        if resumed:
            log.warning("%d campaigns resumed: their transport answers again", resumed)
        return resumed

    async def reconcile_parked(self) -> int:
        """Apply parked receipts whose message has since been recorded as sent."""

        async def work(conn: AsyncConnection) -> int:
            return await store.settle_parked(conn, now=utcnow())

        return await self.db.write(work)

    async def sweep(self) -> int:
        """Sent long ago and never confirmed becomes unknown, so campaigns can finish; on channels
        without idempotency keys, a claim whose sender died becomes unknown too."""
        now = utcnow()
        sent_before = now - timedelta(seconds=self.settings.delivery_unconfirmed_seconds)
        keyless = [name for name, channel in self.channels.items() if not channel.idempotent]

        async def work(conn: AsyncConnection) -> int:
            moved = await store.expire_unconfirmed(conn, sent_before=sent_before, now=now)
            # A/B tests whose time has come: the winner goes to the customers still waiting.
            moved += await variants.pick_winners(conn, now=now)
            if keyless:
                ids = list(
                    (
                        await conn.execute(
                            sa.select(Campaign.id).where(
                                Campaign.channel.in_(keyless), Campaign.status.in_(["running", "paused"])
                            )
                        )
                    ).scalars()
                )
                moved += await store.give_up_expired(conn, now=now, campaign_ids=ids)
            return moved

        return await self.db.write(work)
