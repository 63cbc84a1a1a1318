"""Campaign services: create (checked), launch (audience frozen in one statement), state changes."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from pulsecrm.ai import tags as ai_tags
from pulsecrm.campaigns import templates, timing, variants
from pulsecrm.campaigns.models import Campaign
from pulsecrm.campaigns.variants import LABELS
from pulsecrm.config import Settings
from pulsecrm.customers import consent
from pulsecrm.customers.models import Customer
from pulsecrm.db import UTCDateTime, utcnow
from pulsecrm.delivery import store as delivery_store
from pulsecrm.delivery.channels import ChannelName
from pulsecrm.delivery.channels import registry as channel_registry
from pulsecrm.delivery.models import Delivery
from pulsecrm.errors import Conflict, InvalidInput, NotFound
from pulsecrm.outcomes import holdout
from pulsecrm.pagination import newest_first
from pulsecrm.segments import rules as rule_lang
from pulsecrm.segments import service as segment_service
from pulsecrm.segments.catalog import Catalog

# Which state changes are allowed, and where they lead.
TRANSITIONS = {
    "launch": ({"draft"}, "running"),
    "arm": ({"draft"}, "scheduled"),  # a launch before the campaign's scheduled time
    "reschedule": ({"draft", "scheduled"}, None),  # the time moves, the status stays
    "fire": ({"scheduled"}, "running"),  # the dispatcher's scheduler, at the time
    "pause": ({"running"}, "paused"),
    "resume": ({"paused"}, "running"),
    "cancel": ({"draft", "scheduled", "running", "paused"}, "cancelled"),
}


async def create(
    session: AsyncSession,
    *,
    name: str,
    channel: str,
    message: str | None,
    subject: str | None,
    raw_rules: Any,
    segment_id: int | None,
    rate_limit: int | None,
    catalog: Catalog,
    by: str,
    tags: Sequence[str] | None = None,
    holdout_percent: int = 0,
    attribution_days: int = 5,
    variants: Sequence[Mapping[str, Any]] | None = None,
    variant_test: Mapping[str, Any] | None = None,
    scheduled_at: datetime | None = None,
    send_at: str = "now",
    now: datetime | None = None,
) -> Campaign:
    now = now or utcnow()
    timing.check_future(scheduled_at, now=now)
    message = _check_messages(channel, message, subject, variants, variant_test)
    raw_rules = await audience_rules(session, rules=raw_rules, segment_id=segment_id)
    tree, _ = await segment_service.checked_filter(session, raw_rules, catalog)
    campaign = Campaign(
        name=name,
        status="draft",
        channel=channel,
        subject=subject,
        message=message,
        rules=rule_lang.dump(tree),
        segment_id=segment_id,
        rate_limit=rate_limit,
        audience=0,
        unsubscribed_excluded=0,
        pending=0,
        sent=0,
        delivered=0,
        failed=0,
        unknown=0,
        cancelled=0,
        created_by=by,
        created_at=now,
        updated_at=now,
        tags=_tags(tags if tags is not None else ai_tags.suggest(rule_lang.dump(tree), message, subject)),
        holdout_percent=holdout_percent,
        attribution_days=attribution_days,
        variants=[dict(v) for v in variants] if variants else None,
        variant_test_percent=variant_test["percent"] if variant_test else None,
        variant_test_hours=variant_test["hours"] if variant_test else None,
        variant_metric=variant_test["metric"] if variant_test else None,
        scheduled_at=scheduled_at,
        send_at=send_at,
        capped=0,
    )
    session.add(campaign)
    await session.flush()
    return campaign


def _check_messages(
    channel: str,
    message: str | None,
    subject: str | None,
    variants: Sequence[Mapping[str, Any]] | None,
    variant_test: Mapping[str, Any] | None,
) -> str:
    """One message, or 2-5 variants; every template checked, every e-mail with a subject.
    Returns the campaign's message (the first variant's, with variants)."""
    if (message is None) == (not variants):
        raise InvalidInput(
            "give the message as `message` or as `variants`, not both or neither",
            details=[{"loc": ["body", "message"], "message": "exactly one of message, variants"}],
        )
    if variant_test is not None and not variants:
        raise InvalidInput(
            "`variant_test` needs `variants`",
            details=[{"loc": ["body", "variant_test"], "message": "only with variants"}],
        )
    if subject:
        templates.check(subject, path="$.subject")
    if message is not None:
        if channel == "email" and not subject:
            raise InvalidInput(
                "an e-mail campaign needs a subject",
                details=[{"loc": ["body", "subject"], "message": "required for e-mail"}],
            )
        templates.check(message, path="$.message")
        return message
    assert variants
    for i, variant in enumerate(variants):
        templates.check(str(variant["message"]), path=f"$.variants[{i}].message")
        if variant.get("subject"):
            templates.check(str(variant["subject"]), path=f"$.variants[{i}].subject")
        elif channel == "email" and not subject:
            raise InvalidInput(
                f"e-mail variant {LABELS[i]} needs a subject (its own, or the campaign's)",
                details=[{"loc": ["body", "variants", i, "subject"], "message": "required for e-mail"}],
            )
    return str(variants[0]["message"])


async def audience_rules(session: AsyncSession, *, rules: Any, segment_id: int | None) -> Any:
    """The audience's rule tree, given as rules or as a saved segment (exactly one of them)."""
    if (rules is None) == (segment_id is None):
        raise InvalidInput(
            "give the audience as `rules` or as `segment_id`, not both or neither",
            details=[{"loc": ["body", "rules"], "message": "exactly one of rules, segment_id"}],
        )
    return rules if segment_id is None else (await segment_service.get(session, segment_id)).rules


async def names(session: AsyncSession, campaign_ids: Iterable[int]) -> dict[int, str]:
    """id -> name of those of the campaigns that exist."""
    wanted = sorted(set(campaign_ids))
    if not wanted:
        return {}
    rows = await session.execute(sa.select(Campaign.id, Campaign.name).where(Campaign.id.in_(wanted)))
    return {int(i): str(n) for i, n in rows}


async def get(session: AsyncSession, campaign_id: int, *, lock: bool = False) -> Campaign:
    query = sa.select(Campaign).where(Campaign.id == campaign_id)
    campaign = await session.scalar(query.with_for_update() if lock else query)
    if campaign is None:
        raise NotFound(f"no campaign with id {campaign_id}")
    return campaign


def _transition(campaign: Campaign, action: str, *, now: datetime | None = None) -> None:
    allowed, target = TRANSITIONS[action]
    if campaign.status not in allowed:
        raise Conflict(
            f"cannot {action} a campaign that is {campaign.status}",
            details=[{"loc": ["status"], "message": campaign.status}],
        )
    if target is not None:
        campaign.status = target
    campaign.updated_at = now or utcnow()


async def launch(
    session: AsyncSession,
    campaign_id: int,
    catalog: Catalog,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> Campaign:
    """Launch a draft now, or arm it (`scheduled`) when its scheduled time is still ahead; a
    draft whose time has passed meanwhile launches now."""
    now = now or utcnow()
    campaign = await get(session, campaign_id, lock=True)
    if campaign.status == "draft" and campaign.scheduled_at is not None and campaign.scheduled_at > now:
        _transition(campaign, "arm", now=now)
        await session.flush()
        return campaign
    _transition(campaign, "launch", now=now)
    return await _freeze(session, campaign, catalog, settings=settings, now=now)


async def fire(
    session: AsyncSession, campaign_id: int, catalog: Catalog, *, settings: Settings, now: datetime
) -> Campaign | None:
    """The scheduler's launch of a scheduled campaign whose time has come: the normal launch,
    the audience frozen now. The campaign's row lock makes it once: a second scheduler waits,
    then finds it running and returns None (as for one cancelled or rescheduled meanwhile)."""
    campaign = await get(session, campaign_id, lock=True)
    allowed, _ = TRANSITIONS["fire"]
    if campaign.status not in allowed or campaign.scheduled_at is None or campaign.scheduled_at > now:
        return None
    _transition(campaign, "fire", now=now)
    return await _freeze(session, campaign, catalog, settings=settings, now=now)


async def due_scheduled(session: AsyncSession, *, now: datetime, limit: int = 100) -> list[int]:
    """Scheduled campaigns whose time has come, earliest first."""
    rows = await session.scalars(
        sa.select(Campaign.id)
        .where(Campaign.status == "scheduled", Campaign.scheduled_at <= now)
        .order_by(Campaign.scheduled_at, Campaign.id)
        .limit(limit)
    )
    return list(rows)


async def reschedule(
    session: AsyncSession, campaign_id: int, scheduled_at: datetime | None, *, now: datetime | None = None
) -> Campaign:
    """Move a draft's or an armed campaign's time (still ahead). None unschedules: a draft then
    launches at once, and an armed campaign goes back to draft."""
    now = now or utcnow()
    timing.check_future(scheduled_at, now=now)
    campaign = await get(session, campaign_id, lock=True)
    _transition(campaign, "reschedule", now=now)
    campaign.scheduled_at = scheduled_at
    if scheduled_at is None and campaign.status == "scheduled":
        campaign.status = "draft"
    await session.flush()
    return campaign


def _plan(
    campaign: Campaign, where: sa.ColumnElement[bool], *, dialect: str, settings: Settings, now: datetime
) -> timing.Plan | None:
    if campaign.send_at != "best_hour":
        return None
    return timing.best_hour_plan(
        where, dialect=dialect, zone=settings.zone, now=now, type_=Delivery.__table__.c.next_attempt_at.type
    )


async def planned_hours(
    session: AsyncSession,
    raw_rules: Any,
    catalog: Catalog,
    *,
    channel: ChannelName,
    settings: Settings,
    now: datetime | None = None,
) -> list[int]:
    """How many of the audience a best-hour launch now would plan for each hour of the day
    (store time); those without a planned hour go at once, in the current hour."""
    now = now or utcnow()
    _, where = await segment_service.checked_filter(session, raw_rules, catalog)
    plan = timing.best_hour_plan(
        where,
        dialect=session.get_bind().dialect.name,
        zone=settings.zone,
        now=now,
        type_=Delivery.__table__.c.next_attempt_at.type,
    )
    hour = sa.func.coalesce(plan.hour, now.astimezone(settings.zone).hour)
    query = plan.joined(
        sa.select(hour, sa.func.count())
        .select_from(Customer)
        .where(where, consent.reachable(channel, message_unknown=settings.message_unknown_consent))
        .group_by(hour)
    )
    hours = [0] * 24
    for h, n in await session.execute(query):
        hours[int(h)] += int(n)
    return hours


async def _freeze(
    session: AsyncSession, campaign: Campaign, catalog: Catalog, *, settings: Settings, now: datetime
) -> Campaign:
    """Freeze the audience: a delivery per matching customer reachable on the channel, in one
    statement; those left out are counted by reason."""
    _, where = await segment_service.checked_filter(session, campaign.rules, catalog)
    await session.flush()  # the store's statements below must see the campaign running
    conn = await session.connection()
    control = holdout.in_control(holdout.seed_of(campaign.rules), campaign.holdout_percent, Customer.id)
    launched = await delivery_store.create_for_launch(
        conn,
        campaign_id=campaign.id,
        where=where,
        channel=channel_of(campaign),
        message_unknown=settings.message_unknown_consent,
        now=now,
        held_out=control if campaign.holdout_percent else None,
        plan=_plan(campaign, where, dialect=conn.dialect.name, settings=settings, now=now),
        **_variant_columns(campaign, now),
    )
    if campaign.holdout_percent:
        await holdout.hold_out(
            conn,
            campaign_id=campaign.id,
            reachable=sa.and_(
                where,
                consent.reachable(channel_of(campaign), message_unknown=settings.message_unknown_consent),
            ),
            control=control,
            now=now,
        )
    await session.refresh(campaign)  # the store moved its counters
    campaign.audience = launched.audience
    campaign.unsubscribed_excluded = launched.unsubscribed
    campaign.no_consent_excluded = launched.no_consent
    campaign.unreachable_excluded = launched.no_address
    campaign.awaits_receipts = channel_registry.gives_receipts(settings, channel_of(campaign))
    campaign.launched_at = campaign.updated_at = now
    if launched.audience == 0:
        campaign.status, campaign.completed_at = "completed", now
    await session.flush()
    return campaign


def _variant_columns(campaign: Campaign, now: datetime) -> dict[str, sa.ColumnElement[Any] | None]:
    """The launch's per-customer A/B variant, and for a test's remainder when it may go out:
    not before the winner is picked (`variants.pick_winners`)."""
    if not campaign.variants:
        return {}
    variant, in_test = variants.assignment(campaign, Customer.id)
    if in_test is None:
        return {"variant": variant}
    wait_until = now + timedelta(hours=campaign.variant_test_hours or 0)
    not_before = sa.case((in_test, sa.null()), else_=sa.literal(wait_until, UTCDateTime()))
    return {"variant": variant, "not_before": not_before}


async def reach(
    session: AsyncSession, raw_rules: Any, catalog: Catalog, *, channel: ChannelName, message_unknown: bool
) -> delivery_store.Launched:
    """Who launching these rules on `channel` now would message, and who it would leave out."""
    _, where = await segment_service.checked_filter(session, raw_rules, catalog)
    return await delivery_store.reach(
        await session.connection(), where, channel=channel, message_unknown=message_unknown
    )


def channel_of(campaign: Campaign) -> ChannelName:
    return "email" if campaign.channel == "email" else "sms"


async def change(session: AsyncSession, campaign_id: int, action: str, *, by: str | None = None) -> Campaign:
    """Pause, resume or cancel. Cancelling settles every pending delivery as cancelled."""
    if action == "cancel":  # lock its deliveries before the campaign, the order every sender takes
        pending = sa.select(Delivery.id).where(
            Delivery.campaign_id == campaign_id, Delivery.status == "pending"
        )
        await session.execute(pending.order_by(Delivery.id).with_for_update())
    campaign = await get(session, campaign_id, lock=True)
    _transition(campaign, action)
    now = utcnow()
    if action == "pause":
        campaign.pause_reason = f"paused by {by}" if by else "paused by a person"
        campaign.paused_at, campaign.paused_by_policy = now, False
    else:
        campaign.pause_reason, campaign.paused_at, campaign.paused_by_policy = None, None, False
    if action == "cancel":
        await session.flush()
        await delivery_store.cancel(await session.connection(), campaign_id=campaign.id, now=now)
        await session.refresh(campaign)
        campaign.completed_at = now
    await session.flush()
    return campaign


async def pause_for_errors(conn: AsyncConnection, campaign_id: int, *, reason: str, now: datetime) -> bool:
    """The error policy pauses a running campaign, saying why; False if it was not running."""
    allowed, target = TRANSITIONS["pause"]
    result = await conn.execute(
        sa.update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(allowed))
        .values(
            status=target, pause_reason=reason[:300], paused_at=now, paused_by_policy=True, updated_at=now
        )
    )
    return bool(result.rowcount)


async def resume_after_errors(conn: AsyncConnection, campaign_ids: list[int], *, now: datetime) -> int:
    """Resume campaigns the error policy paused (not those a person paused)."""
    allowed, target = TRANSITIONS["resume"]
    result = await conn.execute(
        sa.update(Campaign)
        .where(
            Campaign.id.in_(campaign_ids), Campaign.status.in_(allowed), Campaign.paused_by_policy.is_(True)
        )
        .values(status=target, pause_reason=None, paused_at=None, paused_by_policy=False, updated_at=now)
    )
    return int(result.rowcount)


def _tags(tags: Sequence[str]) -> str:
    return ",".join(t for t in ai_tags.TAGS if t in tags)  # the fixed order, no duplicates


async def set_tags(session: AsyncSession, campaign_id: int, tags: Sequence[str]) -> Campaign:
    campaign = await get(session, campaign_id, lock=True)
    campaign.tags = _tags(tags)
    campaign.updated_at = utcnow()
    await session.flush()
    return campaign


async def list_campaigns(
    session: AsyncSession, *, limit: int, cursor: str | None, status: str | None, tag: str | None = None
) -> tuple[list[Campaign], str | None]:
    """Newest first."""
    query = sa.select(Campaign)
    if status is not None:
        query = query.where(Campaign.status == status)
    if tag is not None:
        # Tags are a fixed vocabulary without commas: ",a,b," contains ",a," exactly when a is one.
        query = query.where((sa.literal(",") + Campaign.tags + ",").contains(f",{tag},", autoescape=True))
    return await newest_first(session, query, Campaign.id, limit=limit, cursor=cursor)


async def list_deliveries(
    session: AsyncSession, campaign_id: int, *, status: str | None, limit: int, after_id: int | None
) -> tuple[list[tuple[Delivery, str]], str | None]:
    await get(session, campaign_id)
    query = (
        sa.select(Delivery, Customer.external_id)
        .join(Customer, Customer.id == Delivery.customer_id)
        .where(Delivery.campaign_id == campaign_id)
        .order_by(Delivery.id)
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    if after_id is not None:
        query = query.where(Delivery.id > after_id)
    rows = [(d, str(ext)) for d, ext in await session.execute(query)]
    return (rows[:limit], str(rows[limit - 1][0].id)) if len(rows) > limit else (rows, None)


async def numbered_deliveries(
    session: AsyncSession, campaign_id: int, *, status: str | None, limit: int, after_id: int | None
) -> tuple[list[tuple[int, Delivery, str]], str | None]:
    """The log as a person reads it: each message numbered 1..n within its campaign (its
    position in the audience, also when filtered by status), not by the table's global id."""
    await get(session, campaign_id)
    numbered = (
        sa.select(
            Delivery.id.label("id"),
            sa.func.row_number().over(order_by=Delivery.id).label("number"),
        )
        .where(Delivery.campaign_id == campaign_id)
        .subquery()
    )
    query = (
        sa.select(numbered.c.number, Delivery, Customer.external_id)
        .join(Delivery, Delivery.id == numbered.c.id)
        .join(Customer, Customer.id == Delivery.customer_id)
        .order_by(numbered.c.id)
        .limit(limit + 1)
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    if after_id is not None:
        query = query.where(numbered.c.id > after_id)
    rows = [(int(n), d, str(ext)) for n, d, ext in await session.execute(query)]
    return (rows[:limit], str(rows[limit - 1][1].id)) if len(rows) > limit else (rows, None)


async def preview_message(
    session: AsyncSession,
    *,
    message: str,
    subject: str | None,
    customer_external_id: str | None,
    raw_rules: Any = None,
    segment_id: int | None = None,
    catalog: Catalog | None = None,
) -> tuple[Customer | None, str | None, str]:
    templates.check(message, path="$.message")
    if subject:
        templates.check(subject, path="$.subject")
    query = sa.select(Customer)
    if segment_id is not None:
        raw_rules = (await segment_service.get(session, segment_id)).rules
    if customer_external_id:
        query = query.where(Customer.external_id == customer_external_id)
    elif raw_rules is not None and catalog is not None:
        # Someone the campaign would reach: the first of the audience, as its sample shows.
        _, where = await segment_service.checked_filter(session, raw_rules, catalog)
        query = query.where(where).order_by(Customer.id).limit(1)
    else:
        query = query.order_by(Customer.total_spend.desc(), Customer.id).limit(1)
    customer = await session.scalar(query)
    if customer_external_id and customer is None:
        raise NotFound(f"no customer with external_id {customer_external_id!r}")
    context = templates.context_for(customer) if customer else {}
    rendered_subject = templates.render(subject, context) if subject else None
    return customer, rendered_subject, templates.render(message, context)


def sms_segments(characters: int) -> int:
    return max(1, math.ceil(characters / 160))


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(sa.select(Campaign.status, sa.func.count()).group_by(Campaign.status))
    return {str(status): int(n) for status, n in rows}
