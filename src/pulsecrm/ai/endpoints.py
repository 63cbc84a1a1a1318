"""AI assistant routes: plain words to a segment, message variants for a campaign goal, a
campaign's summary, send-time suggestions, and lookalike audiences."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from pulsecrm.ai import explain, lookalike, send_time, summary
from pulsecrm.ai import service as ai_service
from pulsecrm.ai.offline import spend_percentiles
from pulsecrm.ai.schemas import (
    AudienceOut,
    ConditionNote,
    DriverOut,
    LookalikeCustomer,
    LookalikeIn,
    LookalikeOut,
    LookalikeSavedOut,
    LookalikeSaveIn,
    MessagesIn,
    MessagesOut,
    SeedOut,
    SegmentPromptIn,
    SegmentSuggestionOut,
    SendTimeIn,
    SendTimeOut,
    SummaryOut,
    VariantOut,
)
from pulsecrm.campaigns import service as campaign_service
from pulsecrm.campaigns import templates
from pulsecrm.customers.models import Customer
from pulsecrm.db import utcnow
from pulsecrm.deps import CampaignsScope, SegmentsScope, ServicesDep, SessionDep, WriteSessionDep
from pulsecrm.errors import InvalidInput
from pulsecrm.segments import service as segment_service
from pulsecrm.segments.schemas import SegmentOut
from pulsecrm.services import Services
from pulsecrm.validation import DbId

router = APIRouter(prefix="/api/v1/ai", tags=["ai"])

COUNT_CAP = 10_000  # like a non-exact preview: the builder re-counts exactly on demand


@router.post("/segment", response_model=SegmentSuggestionOut)
async def segment(
    body: SegmentPromptIn, session: SessionDep, services: ServicesDep, _: SegmentsScope
) -> SegmentSuggestionOut:
    """A rule tree from plain words, with a line per condition and the live count.

    422 (naming `prompt`) when nothing in the prompt could be read as a condition."""
    catalog = await services.catalog.get(session)
    # Vague value words ("big spenders") are read against the spend distribution of now.
    asked = spend_percentiles(body.prompt, catalog)  # "top 20%", "the median": computed too
    catalog = replace(catalog, spend=await ai_service.spend_distribution(session, asked))
    # A model may take seconds: don't hold a pooled connection while it thinks.
    await session.rollback()
    answer = await ai_service.engine_for(services.settings).rules_from_text(body.prompt, catalog)
    _tree, where = await segment_service.checked_filter(session, answer.rules, catalog)
    found = await segment_service.count(session, where, cap=COUNT_CAP)
    return SegmentSuggestionOut(
        rules=answer.rules,
        explanation=explain.summary(answer.rules, catalog),
        conditions=[
            ConditionNote(path=line.path, text=line.text) for line in explain.lines(answer.rules, catalog)
        ],
        not_understood=answer.not_understood,
        notes=answer.notes,
        engine="model" if answer.engine == "model" else "offline",
        fallback_reason=answer.fallback_reason,
        count=min(found, COUNT_CAP),
        count_is_lower_bound=found > COUNT_CAP,
    )


@router.post("/messages", response_model=MessagesOut)
async def messages(
    body: MessagesIn, session: SessionDep, services: ServicesDep, _: CampaignsScope
) -> MessagesOut:
    """Distinct message variants for a goal, fitted to the audience and the channel."""
    catalog = await services.catalog.get(session)
    raw_rules = await ai_service.audience_rules(session, raw_rules=body.rules, segment_id=body.segment_id)
    audience, where = await ai_service.audience_summary(session, raw_rules, catalog)
    sample = await segment_service.sample(session, where, size=1)
    context = templates.context_for(sample[0]) if sample else {}
    await session.rollback()  # as above: release the connection before a model is asked
    variants = await ai_service.engine_for(services.settings).message_variants(
        body.goal, audience, body.channel, body.count
    )
    out = []
    for v in variants:
        preview = templates.render(v.message, context)
        out.append(
            VariantOut(
                angle=v.angle,
                message=v.message,
                subject=v.subject,
                engine="model" if v.engine == "model" else "offline",
                preview=preview,
                preview_subject=templates.render(v.subject, context) if v.subject else None,
                length=len(preview),
            )
        )
    return MessagesOut(
        variants=out,
        audience=AudienceOut(
            size=audience.size,
            with_orders=audience.with_orders,
            median_spend=audience.median_spend,
            avg_spend=audience.avg_spend,
            median_days_since_order=audience.median_days_since_order,
            lapsed_share=audience.lapsed_share,
            top_city=audience.top_city,
        ),
        channel=body.channel,
    )


@router.post("/campaigns/{campaign_id:int}/summary", response_model=SummaryOut)
async def campaign_summary(campaign_id: DbId, session: SessionDep, _: CampaignsScope) -> SummaryOut:
    """How a campaign did, in plain words: rates overall and by city, spend and recency band.

    Every number in the sentences comes from the facts returned beside them (checked)."""
    await campaign_service.get(session, campaign_id)  # 404 when there is no such campaign
    found = await summary.facts(session, campaign_id, now=utcnow())
    said = summary.checked_sentences(found)
    return SummaryOut(sentences=said, text=" ".join(said), facts=found.as_json())


@router.post("/send-time", response_model=SendTimeOut)
async def suggest_send_time(
    body: SendTimeIn, session: SessionDep, services: ServicesDep, _: CampaignsScope
) -> SendTimeOut:
    """The hours an audience orders in, and the three-hour window most of its orders fall in."""
    catalog = await services.catalog.get(session)
    raw_rules = await ai_service.audience_rules(session, raw_rules=body.rules, segment_id=body.segment_id)
    now = utcnow()
    _tree, where = await segment_service.audience_filter(session, raw_rules, catalog, now=now)
    zone = ZoneInfo(body.timezone)
    found = await send_time.distribution(session, where, zone=zone, now=now)
    return SendTimeOut(
        orders=found.orders,
        hours=found.hours,
        suggested_hour=found.start_hour,
        share=round(found.share, 4),
        timezone=body.timezone,
        sentence=found.sentence(body.timezone),
        next_at=None if found.start_hour is None else send_time.next_start(found.start_hour, zone, now),
    )


async def _lookalike(session: AsyncSession, services: Services, body: LookalikeIn) -> lookalike.Lookalike:
    catalog = await services.catalog.get(session)
    now = utcnow()
    seed = await lookalike.seed_of(
        session, catalog, segment_id=body.segment_id, campaign_id=body.campaign_id, now=now
    )
    return await lookalike.find(session, catalog, seed=seed, size=body.size, now=now)


async def _described(session: AsyncSession, found: lookalike.Lookalike, preview: int) -> dict[str, Any]:
    """The answer's fields, with the first `preview` lookalikes read by primary key."""
    ranking = found.ranking
    shown = ranking.ids[:preview]
    rows = {c.id: c for c in await session.scalars(sa.select(Customer).where(Customer.id.in_(shown)))}
    customers = [
        LookalikeCustomer(
            external_id=c.external_id,
            name=c.name,
            city=c.city,
            total_spend=c.total_spend,
            order_count=c.order_count,
            last_order_at=c.last_order_at,
            similarity=similarity,
        )
        for i, similarity in zip(shown, ranking.similarity, strict=False)
        if (c := rows.get(i)) is not None  # deleted since it was ranked
    ]
    return {
        "seed": SeedOut(
            kind=found.seed.kind, id=found.seed.id, name=found.seed.name, customers=found.seed_total
        ),
        "size": len(ranking.ids),
        "scanned": ranking.candidates,
        "sampled": found.sampled,
        "drivers": [DriverOut.model_validate(d, from_attributes=True) for d in ranking.drivers],
        "min_similarity": ranking.similarity[-1] if ranking.similarity else None,
        "customers": customers,
        "method": lookalike.METHOD,
    }


@router.post("/lookalikes", response_model=LookalikeOut)
async def lookalikes(
    body: LookalikeIn, session: SessionDep, services: ServicesDep, _: SegmentsScope
) -> LookalikeOut:
    """The customers outside a seed (a segment, or a campaign's converters) who most resemble
    it, best first, and the features that set the seed apart. Nothing is saved."""
    found = await _lookalike(session, services, body)
    return LookalikeOut(**await _described(session, found, body.preview))


@router.post("/lookalikes/save", response_model=LookalikeSavedOut, status_code=201)
async def save_lookalikes(
    body: LookalikeSaveIn, session: WriteSessionDep, services: ServicesDep, who: SegmentsScope
) -> LookalikeSavedOut:
    """The same ranking, saved as a list segment of the `size` best: usable in campaigns and, as
    `segment in_segment <id>`, in any rule tree."""
    found = await _lookalike(session, services, body)
    if not found.ranking.ids:
        raise InvalidInput(
            "nobody outside the seed to save",
            details=[{"loc": ["body", "size"], "message": "no customer outside the seed was found"}],
        )
    seed = found.seed
    description = body.description or (
        f"{len(found.ranking.ids):,} customers most like "
        + (
            f"segment “{seed.name}”"
            if seed.kind == "segment"
            else f"the converters of campaign “{seed.name}”"
        )
    )
    segment = await segment_service.create_list(
        session, name=body.name, description=description[:1000], customer_ids=found.ranking.ids, by=who.name
    )
    described = await _described(session, found, body.preview)
    await session.commit()
    return LookalikeSavedOut(**described, segment=SegmentOut.model_validate(segment))
