"""Campaign routes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from pulsecrm import metrics
from pulsecrm.ai.tags import Tag
from pulsecrm.campaigns import service, test_send, variants
from pulsecrm.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignTestSendIn,
    DeliveryOut,
    Excluded,
    MessagePreviewIn,
    MessagePreviewOut,
    ReachIn,
    ReachOut,
    ScheduleIn,
    SendHoursIn,
    SendHoursOut,
    TagsIn,
    TestSendIn,
    TestSendOut,
)
from pulsecrm.db import utcnow
from pulsecrm.delivery import tracking
from pulsecrm.delivery.models import DELIVERY_STATUSES
from pulsecrm.deps import CampaignsScope, ServicesDep, SessionDep, WriteSessionDep
from pulsecrm.outcomes import service as outcomes_service
from pulsecrm.outcomes.schemas import ReportOut, TimelineOut
from pulsecrm.pagination import Page
from pulsecrm.validation import DbId, IdCursor

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])


@router.post("", response_model=CampaignOut, status_code=201)
async def create(
    body: CampaignIn, session: WriteSessionDep, services: ServicesDep, who: CampaignsScope
) -> CampaignOut:
    """Create a draft. The template and the audience are checked now (422 with the position)."""
    campaign = await service.create(
        session,
        name=body.name,
        channel=body.channel,
        message=body.message,
        subject=body.subject,
        raw_rules=body.rules,
        segment_id=body.segment_id,
        rate_limit=body.rate_limit,
        catalog=await services.catalog.get(session),
        by=who.name,
        tags=body.tags,
        holdout_percent=body.holdout_percent,
        attribution_days=body.attribution_days,
        variants=[v.model_dump() for v in body.variants] if body.variants else None,
        variant_test=body.variant_test.model_dump() if body.variant_test else None,
        scheduled_at=body.scheduled_at,
        send_at=body.send_at,
    )
    await session.commit()
    return CampaignOut.of(campaign)


@router.get("", response_model=Page[CampaignOut])
async def list_campaigns(
    session: SessionDep,
    services: ServicesDep,
    _: CampaignsScope,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: IdCursor = None,
    status: Literal["draft", "scheduled", "running", "paused", "completed", "cancelled"] | None = None,
    tag: Tag | None = None,
) -> Page[CampaignOut]:
    """All campaigns, newest first, each with its stats; `tag` keeps those with that tag."""
    rows, next_cursor = await service.list_campaigns(
        session, limit=limit, cursor=cursor, status=status, tag=tag
    )
    settings = services.settings
    return Page[CampaignOut](
        items=[CampaignOut.of(c, settings=settings) for c in rows], next_cursor=next_cursor
    )


@router.get("/{campaign_id:int}/report", response_model=ReportOut)
async def report(campaign_id: DbId, session: SessionDep, _: CampaignsScope) -> ReportOut:
    """What the campaign earned: the funnel, last-touch revenue, and the lift over the control
    group with its 95% interval (null, with `lift_note`, without a holdout)."""
    campaign = await service.get(session, campaign_id)
    found = await variants.figures(await session.connection(), campaign.id) if campaign.variants else []
    return outcomes_service.report(campaign, now=utcnow(), variant_figures=found)


@router.get("/{campaign_id:int}/timeline", response_model=TimelineOut)
async def timeline(campaign_id: DbId, session: SessionDep, _: CampaignsScope) -> TimelineOut:
    """Sent, opened, clicked, orders and revenue per time bucket since launch: 5-minute buckets
    over a span up to 2 hours, hourly up to 48 hours, daily beyond (see `bucket_seconds`)."""
    campaign = await service.get(session, campaign_id)
    return await outcomes_service.timeline(session, campaign, now=utcnow())


@router.post("/reach", response_model=ReachOut)
async def reach(body: ReachIn, session: SessionDep, services: ServicesDep, _: CampaignsScope) -> ReachOut:
    """How many customers the audience matches, and how many of them a launch on `channel` would
    message now: the unsubscribed, those without consent and those without an address for the
    channel are left out, each counted once."""
    raw_rules = await service.audience_rules(session, rules=body.rules, segment_id=body.segment_id)
    counted = await service.reach(
        session,
        raw_rules,
        await services.catalog.get(session),
        channel=body.channel,
        message_unknown=services.settings.message_unknown_consent,
    )
    excluded = Excluded(
        unsubscribed=counted.unsubscribed, no_consent=counted.no_consent, no_address=counted.no_address
    )
    matched = counted.audience + counted.unsubscribed + counted.no_consent + counted.no_address
    return ReachOut(matched=matched, reachable=counted.audience, excluded=excluded)


@router.post("/send-hours", response_model=SendHoursOut)
async def send_hours(
    body: SendHoursIn, session: SessionDep, services: ServicesDep, _: CampaignsScope
) -> SendHoursOut:
    """The hours a best-hour launch now would plan the audience's messages for (store time):
    each customer's most frequent order hour, else the audience's. Messages planned within
    the channel's quiet hours wait for them to end."""
    raw_rules = await service.audience_rules(session, rules=body.rules, segment_id=body.segment_id)
    hours = await service.planned_hours(
        session,
        raw_rules,
        await services.catalog.get(session),
        channel=body.channel,
        settings=services.settings,
    )
    return SendHoursOut(timezone=services.settings.timezone, hours=dict(enumerate(hours)))


@router.post("/test-send", response_model=TestSendOut)
async def send_test(
    body: TestSendIn, session: SessionDep, services: ServicesDep, who: CampaignsScope
) -> TestSendOut:
    """Send the message once, filled in for a customer of the audience, to yourself: an e-mail
    to the signed-in user's address, an SMS to `phone`. Not a delivery: nothing is counted."""
    sent = await test_send.send(
        session,
        services.open_channels,
        campaign_id=0,
        channel=body.channel,
        to=test_send.recipient(body.channel, who, body.phone),
        message=body.message,
        subject=body.subject,
        raw_rules=body.rules,
        segment_id=body.segment_id,
        catalog=await services.catalog.get(session),
    )
    return TestSendOut(
        channel=sent.channel, to=sent.to, customer_name=sent.customer_name, message_id=sent.message_id
    )


@router.post("/{campaign_id}/test-send", response_model=TestSendOut)
async def send_campaign_test(
    campaign_id: DbId,
    body: CampaignTestSendIn,
    session: SessionDep,
    services: ServicesDep,
    who: CampaignsScope,
) -> TestSendOut:
    """A saved campaign's test send: its message (variant A of a test) to yourself, as above."""
    campaign = await service.get(session, campaign_id)
    message, subject = (
        variants.variant_of(campaign, 0) if campaign.variants else (campaign.message, campaign.subject)
    )
    channel: Literal["sms", "email"] = "email" if campaign.channel == "email" else "sms"
    sent = await test_send.send(
        session,
        services.open_channels,
        campaign_id=campaign.id,
        channel=channel,
        to=test_send.recipient(channel, who, body.phone),
        message=message,
        subject=subject,
        raw_rules=campaign.rules,
        segment_id=None,
        catalog=await services.catalog.get(session),
    )
    return TestSendOut(
        channel=sent.channel, to=sent.to, customer_name=sent.customer_name, message_id=sent.message_id
    )


@router.post("/preview-message", response_model=MessagePreviewOut)
async def preview_message(
    body: MessagePreviewIn, session: SessionDep, services: ServicesDep, _: CampaignsScope
) -> MessagePreviewOut:
    """Render a template for one customer: the given one, else one of the given audience (`rules`
    or `segment_id`), else the top spender."""
    customer, subject, text = await service.preview_message(
        session,
        message=body.message,
        subject=body.subject,
        customer_external_id=body.customer_external_id,
        raw_rules=body.rules,
        segment_id=body.segment_id,
        catalog=await services.catalog.get(session),
    )
    sent_length = tracking.tracked_length(text, services.settings)
    return MessagePreviewOut(
        customer_external_id=customer.external_id if customer else None,
        customer_name=customer.name if customer else None,
        subject=subject,
        message=text,
        # As sent: with its links tracked (`/r/<token>`), which an SMS's parts depend on.
        characters=sent_length,
        sms_segments=service.sms_segments(sent_length),
    )


@router.get("/{campaign_id:int}", response_model=CampaignOut)
async def get(
    campaign_id: DbId, session: SessionDep, services: ServicesDep, _: CampaignsScope
) -> CampaignOut:
    """The campaign and its figures; `quiet_until` says when sending resumes if the channel's
    quiet hours hold it now."""
    return CampaignOut.of(await service.get(session, campaign_id), settings=services.settings)


@router.post("/{campaign_id:int}/launch", response_model=CampaignOut, status_code=202)
async def launch(
    campaign_id: DbId, session: WriteSessionDep, services: ServicesDep, _: CampaignsScope
) -> JSONResponse:
    """Freeze the audience and hand the sending to the workers (202: it runs in the background).
    A draft whose `scheduled_at` is still ahead is armed instead (status `scheduled`): the
    workers launch it at that time, freezing its audience then."""
    campaign = await service.launch(
        session,
        campaign_id,
        await services.catalog.get(session),
        settings=services.settings,
    )
    await session.commit()
    out = CampaignOut.of(campaign, settings=services.settings)
    return JSONResponse(out.model_dump(mode="json"), status_code=202)


@router.post("/{campaign_id:int}/schedule", response_model=CampaignOut)
async def schedule(
    campaign_id: DbId, body: ScheduleIn, session: WriteSessionDep, _: CampaignsScope
) -> CampaignOut:
    """Set or move the time of a draft or of a scheduled campaign before it starts (422 for a
    time not in the future, 409 once it has started); cancel it with `/cancel`."""
    campaign = await service.reschedule(session, campaign_id, body.scheduled_at)
    await session.commit()
    return CampaignOut.of(campaign)


async def _change(campaign_id: DbId, action: str, session: WriteSessionDep) -> CampaignOut:
    campaign = await service.change(session, campaign_id, action)
    await session.commit()
    return CampaignOut.of(campaign)


@router.put("/{campaign_id:int}/tags", response_model=CampaignOut)
async def set_tags(
    campaign_id: DbId, body: TagsIn, session: WriteSessionDep, _: CampaignsScope
) -> CampaignOut:
    """Replace the campaign's tags (suggested at creation) with the marketer's own choice."""
    campaign = await service.set_tags(session, campaign_id, body.tags)
    await session.commit()
    return CampaignOut.of(campaign)


@router.post("/{campaign_id:int}/pause", response_model=CampaignOut)
async def pause(campaign_id: DbId, session: WriteSessionDep, _: CampaignsScope) -> CampaignOut:
    paused = await _change(campaign_id, "pause", session)
    metrics.campaign_paused("person")  # the error policy's pauses count themselves, by reason
    return paused


@router.post("/{campaign_id:int}/resume", response_model=CampaignOut)
async def resume(campaign_id: DbId, session: WriteSessionDep, _: CampaignsScope) -> CampaignOut:
    return await _change(campaign_id, "resume", session)


@router.post("/{campaign_id:int}/cancel", response_model=CampaignOut)
async def cancel(campaign_id: DbId, session: WriteSessionDep, _: CampaignsScope) -> CampaignOut:
    return await _change(campaign_id, "cancel", session)


@router.get("/{campaign_id:int}/deliveries", response_model=Page[DeliveryOut])
async def deliveries(
    campaign_id: DbId,
    session: SessionDep,
    _: CampaignsScope,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(DELIVERY_STATUSES) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: IdCursor = None,
) -> Page[DeliveryOut]:
    """The delivery log, oldest first, optionally one status only."""
    rows, next_cursor = await service.list_deliveries(
        session, campaign_id, status=status, limit=limit, after_id=int(cursor) if cursor else None
    )
    return Page[DeliveryOut](items=[DeliveryOut.of(d, ext) for d, ext in rows], next_cursor=next_cursor)
