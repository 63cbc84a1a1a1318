"""The pages. Each reads through the domain services; forms post back here with a CSRF token,
and the interactive parts (segment builder, campaign wizard) call the JSON API from the browser."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, get_args
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from pydantic import ValidationError
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from pulsecrm import days as store_days
from pulsecrm import formatting
from pulsecrm.ai import summary as ai_summary
from pulsecrm.ai import tags as ai_tags
from pulsecrm.auth import service as auth_service
from pulsecrm.auth import users
from pulsecrm.campaigns import service as campaigns
from pulsecrm.campaigns import templates as message_templates
from pulsecrm.campaigns import variants
from pulsecrm.campaigns.models import Campaign
from pulsecrm.campaigns.schemas import CampaignOut, TagsIn
from pulsecrm.config import Settings
from pulsecrm.customers import export as customer_export_csv
from pulsecrm.customers import service as customers
from pulsecrm.customers.schemas import ConsentUpdate, consent_of
from pulsecrm.customers.service import CustomerSort
from pulsecrm.db import utcnow
from pulsecrm.delivery import history as message_history
from pulsecrm.delivery.models import DELIVERY_STATUSES
from pulsecrm.deps import ServicesDep, SessionDep, WriteSessionDep
from pulsecrm.errors import InvalidInput, NotFound, PulseError, validation_details
from pulsecrm.ingest import uploads
from pulsecrm.ingest.writer import Kind
from pulsecrm.outcomes import service as outcomes
from pulsecrm.outcomes.schemas import VariantOut
from pulsecrm.segments import service as segments
from pulsecrm.segments.catalog import Catalog
from pulsecrm.segments.schemas import FieldCatalogOut
from pulsecrm.validation import NUL_MESSAGE, DbId, IdCursor
from pulsecrm.web import charts, rules_text
from pulsecrm.web.security import CheckedForm, CurrentUser
from pulsecrm.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE = 25
MESSAGES_SHOWN = 50  # on a customer's page; the API pages through the rest
SORTS = get_args(CustomerSort)


TREND_SPANS = (30, 90)  # days the dashboard's switch offers


@router.get("/")
async def dashboard(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    _: CurrentUser,
    days: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    span = _trend_span(days)
    n_customers, n_orders, revenue = await customers.totals(session)
    by_status = await campaigns.count_by_status(session)
    recent, _cursor = await campaigns.list_campaigns(session, limit=5, cursor=None, status=None)
    since = utcnow() - timedelta(days=30)
    attributed_orders, attributed_revenue = await outcomes.attributed_revenue_since(session, since)
    return render(
        request,
        "dashboard.html",
        customers=n_customers,
        orders=n_orders,
        revenue=revenue,
        attributed_revenue=attributed_revenue,
        attributed_orders=attributed_orders,
        attributed_since=since,
        running=by_status.get("running", 0),
        backlog=await services.ingestor.backlog(),
        recent=[CampaignOut.of(c) for c in recent],
        persistence=services.persistence,
        trends=await _trends(session, services.settings, span),
    )


def _trend_span(days: str | None) -> int:
    if days is None or days == "":
        return TREND_SPANS[0]
    if days.strip() not in {str(n) for n in TREND_SPANS}:
        raise InvalidInput(
            "days must be 30 or 90",
            details=[{"loc": ["query", "days"], "message": "choose 30 or 90"}],
        )
    return int(days)


async def _trends(session: SessionDep, settings: Settings, span: int) -> charts.TrendsView:
    """Per store-time day: four bounded GROUP BYs over indexed ranges (see pulsecrm.days)."""
    window = store_days.last_days(span, now=utcnow(), zone=settings.zone)
    orders, revenue = await customers.orders_per_day(session, window)
    _credited, attributed = await outcomes.attributed_revenue_per_day(session, window)
    return charts.trends_view(
        dates=window.dates,
        zone=settings.timezone,
        orders=orders,
        revenue=revenue,
        new_customers=await customers.new_customers_per_day(session, window),
        attributed=attributed,
    )


# --- customers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerFilter:
    """The customer list's filters: a search, and an audience from the segment builder, either
    a saved segment or rules passed through as JSON (the builder's "List these customers")."""

    q: str
    segment_id: int | None
    rules: str  # the JSON text as given, repeated in links; "" for none
    where: sa.ColumnElement[bool] | None
    sentence: str | None  # the audience as a marketer reads it

    def params(self, **more: str) -> dict[str, str]:
        out = {"q": self.q, "segment": str(self.segment_id or ""), "rules": self.rules, **more}
        return {k: v for k, v in out.items() if v}


async def _customer_filter(
    session: SessionDep, services: ServicesDep, q: str | None, segment: str | None, rules: str | None
) -> CustomerFilter:
    q, segment, rules = (q or "").strip(), (segment or "").strip(), (rules or "").strip()
    if segment and rules:
        raise InvalidInput.at("query", "rules", "choose a saved segment or rules, not both")
    raw: Any = None
    segment_id = None
    if segment:
        if not segment.isdigit() or not 0 < int(segment) < 2**63:
            raise InvalidInput.at("query", "segment", "must be a segment's id")
        segment_id = int(segment)
        raw = (await segments.get(session, segment_id)).rules
    elif rules:
        try:
            raw = json.loads(rules)
        except ValueError:
            raise InvalidInput.at("query", "rules", "must be a rule tree as JSON") from None
    if raw is None:
        return CustomerFilter(q, None, "", None, None)
    catalog = await services.catalog.get(session)
    _tree, where = await segments.checked_filter(session, raw, catalog)
    names = await campaigns.names(session, rules_text.campaign_ids(raw))
    return CustomerFilter(q, segment_id, rules, where, rules_text.sentence(raw, catalog, names))


@router.get("/customers")
async def customer_list(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    _: CurrentUser,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: str = "-created_at",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    segment: Annotated[str | None, Query(max_length=20)] = None,
    rules: Annotated[str | None, Query(max_length=50_000)] = None,
) -> Response:
    chosen: CustomerSort = sort if sort in SORTS else "-created_at"  # type: ignore[assignment]
    found = await _customer_filter(session, services, q, segment, rules)
    rows, next_cursor = await customers.list_customers(
        session, q=found.q or None, sort=chosen, limit=PAGE, cursor=cursor, where=found.where
    )
    context: dict[str, Any] = {"rows": rows, "next_cursor": next_cursor, "sort": chosen, "found": found}
    if cursor is not None:  # "Show more": the next rows only
        return render(request, "_customer_rows.html", first=False, **context)
    context["total"] = await customers.count_customers(session, q=found.q or None, where=found.where)
    if request.headers.get("HX-Request"):  # search-as-you-type: the total, the export link, the rows
        return render(request, "_customer_results.html", first=True, **context)
    saved, _cursor = await segments.list_segments(session, limit=100, cursor=None, q=None)
    return render(request, "customers.html", first=True, saved=saved, **context)


@router.get("/customers/export.csv")
async def customer_export(
    session: SessionDep,
    services: ServicesDep,
    _: CurrentUser,
    q: Annotated[str | None, Query(max_length=200)] = None,
    segment: Annotated[str | None, Query(max_length=20)] = None,
    rules: Annotated[str | None, Query(max_length=50_000)] = None,
) -> Response:
    """The filtered list as CSV, streamed by id a page at a time (customers.export)."""
    found = await _customer_filter(session, services, q, segment, rules)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        customer_export_csv.csv_lines(services.db, q=found.q or None, where=found.where),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="customers-{stamp}.csv"'},
    )


@router.get("/customers/{external_id}")
async def customer_page(
    external_id: str, request: Request, session: SessionDep, services: ServicesDep, _: CurrentUser
) -> Response:
    customer, orders = await customers.get_customer(session, external_id)
    catalog = await services.catalog.get(session)
    member_of = await segments.memberships(session, customer.id, catalog)
    messages, more = await message_history.messages_of(
        session, customer.id, limit=MESSAGES_SHOWN, cursor=None
    )
    return render(
        request,
        "customer.html",
        customer=customer,
        orders=orders,
        consent=consent_of(customer),
        messages=messages,
        more_messages=more is not None,
        member_of=member_of,
    )


@router.post("/customers/{external_id}/consent")
async def customer_consent(
    external_id: str, session: WriteSessionDep, user: CurrentUser, form: CheckedForm
) -> Response:
    """The customer page's consent form: one choice per channel, recorded as this user's."""
    try:
        update = ConsentUpdate.model_validate({channel: form.get(channel) for channel in ("email", "sms")})
    except ValidationError as exc:
        details, _ = validation_details(exc.errors(include_url=False))
        fields = ", ".join(".".join(map(str, d["loc"])) or "a channel" for d in details)
        raise InvalidInput(f"choose opted in, opted out or unknown for {fields}", details=details) from None
    await customers.set_consent(session, external_id, update.stated(), source=f"user:{user.name}")
    await session.commit()
    return RedirectResponse(f"/customers/{quote(external_id, safe='')}", status_code=303)


# --- segments ----------------------------------------------------------------------------------


@router.get("/segments")
async def segment_list(
    request: Request,
    session: SessionDep,
    _: CurrentUser,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: IdCursor = None,
) -> Response:
    rows, next_cursor = await segments.list_segments(session, limit=PAGE, cursor=cursor, q=q or None)
    return render(request, "segments.html", rows=rows, next_cursor=next_cursor, q=q or "")


async def _catalog_json(session: SessionDep, services: ServicesDep) -> str:
    return FieldCatalogOut.of(await services.catalog.get(session)).model_dump_json()


@router.get("/segments/new")
async def segment_new(
    request: Request, session: SessionDep, services: ServicesDep, _: CurrentUser
) -> Response:
    return render(request, "segment_edit.html", segment=None, catalog=await _catalog_json(session, services))


@router.get("/segments/{segment_id}")
async def segment_edit(
    segment_id: DbId, request: Request, session: SessionDep, services: ServicesDep, _: CurrentUser
) -> Response:
    segment = await segments.get(session, segment_id)
    return render(
        request,
        "segment_edit.html",
        segment=segment,
        rules_json=json.dumps(segment.rules),
        catalog=await _catalog_json(session, services),
    )


@router.post("/segments/{segment_id}/delete")
async def segment_delete(
    segment_id: DbId, session: WriteSessionDep, _: CurrentUser, __: CheckedForm
) -> Response:
    await segments.delete(session, segment_id)
    await session.commit()
    return RedirectResponse("/segments", status_code=303)


# --- campaigns ---------------------------------------------------------------------------------


@router.get("/campaigns")
async def campaign_list(
    request: Request,
    session: SessionDep,
    _: CurrentUser,
    status: Annotated[str | None, Query(max_length=20)] = None,
    tag: Annotated[str | None, Query(max_length=40)] = None,
    cursor: IdCursor = None,
) -> Response:
    if tag and tag not in ai_tags.TAGS:
        raise InvalidInput.at("query", "tag", f"must be one of: {', '.join(ai_tags.TAGS_IN_ORDER)}")
    rows, next_cursor = await campaigns.list_campaigns(
        session, limit=PAGE, cursor=cursor, status=status or None, tag=tag or None
    )
    return render(
        request,
        "campaigns.html",
        rows=[CampaignOut.of(c) for c in rows],
        next_cursor=next_cursor,
        status=status or "",
        tag=tag or "",
        tags=ai_tags.TAGS_IN_ORDER,
    )


@router.get("/campaigns/new")
async def campaign_new(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    _: CurrentUser,
    segment_id: DbId | None = None,
) -> Response:
    saved, _cursor = await segments.list_segments(session, limit=100, cursor=None, q=None)
    return render(
        request,
        "campaign_new.html",
        saved=saved,
        chosen_segment=segment_id,
        catalog=await _catalog_json(session, services),
        variables=message_templates.VARIABLES,
        ai_model=bool(services.settings.ai_base_url),
        timezone=services.settings.timezone,
        utc_offset=formatting.store_utc_offset(utcnow()),
    )


async def _campaign_context(session: SessionDep, campaign_id: int, settings: Settings) -> dict[str, Any]:
    campaign = await campaigns.get(session, campaign_id)
    out = CampaignOut.of(campaign, settings=settings)
    return {
        "campaign": out,
        # Sending waits while the channel is in its quiet hours: say until when.
        "quiet_until": out.quiet_until,
        "report": outcomes.report(campaign, now=utcnow()),
        "live": campaign.status in {"running", "paused"} or campaign.pending > 0 or campaign.sent > 0,
    }


async def _chart_context(session: SessionDep, campaign_id: int) -> dict[str, Any]:
    """The outcomes timeline (GET /api/v1/campaigns/{id}/timeline) as drawn on the page."""
    campaign = await campaigns.get(session, campaign_id)
    timeline = await outcomes.timeline(session, campaign, now=utcnow())
    window_open = timeline.ends is not None and timeline.ends > utcnow()
    return {
        "campaign_id": campaign.id,
        "view": charts.timeline_view(timeline) if timeline.buckets else None,
        "sent_limit": outcomes.SENT_CHART_LIMIT,
        # Polled slowly, and only while something can still land in it.
        "polling": campaign.launched_at is not None and window_open,
    }


async def _summary_context(session: SessionDep, campaign_id: int) -> dict[str, Any]:
    """The performance summary (POST /api/v1/ai/campaigns/{id}/summary) as the page shows it:
    the offline sentences, computed here (four GROUP BYs, no model, no network); None before
    anything was sent."""
    campaign = await campaigns.get(session, campaign_id)
    found = await ai_summary.facts(session, campaign.id, now=utcnow())
    return {
        "summary": ai_summary.checked_sentences(found) if found.messages else None,
        # Refreshed slowly, like the chart, while receipts can still change the figures (the
        # live panel's test: in flight, pending, or sent and awaiting a receipt).
        "summary_polling": campaign.status in {"running", "paused"} or campaign.pending + campaign.sent > 0,
    }


@dataclass(frozen=True)
class VariantRow:
    label: str
    subject: str | None  # rendered for one customer, like the message
    message: str | None
    figures: VariantOut | None  # None before any delivery has this variant
    winner: bool


@dataclass(frozen=True)
class VariantsView:
    rows: list[VariantRow]
    email: bool
    note: str | None
    test_percent: int | None
    test_hours: int | None
    metric_name: str
    decides_at: datetime | None  # launch + test hours, while the test runs
    winner_at: datetime | None
    has_winner: bool
    status: str
    launched: bool
    polling: bool


async def _rendered_variants(
    session: SessionDep, campaign: Campaign, catalog: Catalog
) -> list[tuple[str | None, str | None]]:
    """Each variant's (subject, message) as one customer of the audience reads them (the same
    customer for all); (None, None) for a variant that can no longer be rendered."""
    reader = None
    out: list[tuple[str | None, str | None]] = []
    for index in range(len(campaign.variants or [])):
        message, subject = variants.variant_of(campaign, index)
        try:
            reader, rendered_subject, rendered = await campaigns.preview_message(
                session,
                message=message,
                subject=subject,
                customer_external_id=reader.external_id if reader else None,
                raw_rules=None if reader else campaign.rules,
                catalog=catalog,
            )
        except PulseError:
            rendered_subject, rendered = None, None
        out.append((rendered_subject, rendered))
    return out


async def _variants_context(session: SessionDep, services: ServicesDep, campaign_id: int) -> dict[str, Any]:
    """The A/B section. Its figures are one GROUP BY over the campaign's deliveries, so it is
    polled every 30 s like the time chart, never with the 2-second counters."""
    campaign = await campaigns.get(session, campaign_id)
    if not campaign.variants:
        return {"ab": None}
    now = utcnow()
    found = await variants.figures(await session.connection(), campaign.id) if campaign.launched_at else []
    report = outcomes.report(campaign, now=now, variant_figures=found)
    by_index = {v.variant: v for v in report.variants}
    rendered = await _rendered_variants(session, campaign, await services.catalog.get(session))
    rows = [
        VariantRow(
            label=variants.LABELS[i],
            subject=subject,
            message=message,
            figures=by_index.get(i),
            winner=campaign.winner == i,
        )
        for i, (subject, message) in enumerate(rendered)
    ]
    # Only a running (or paused) campaign's test is still waiting for its winner.
    testing = (
        bool(campaign.variant_test_percent)
        and campaign.winner is None
        and campaign.status in {"running", "paused"}
    )
    launched = campaign.launched_at
    window_ends = launched + timedelta(days=campaign.attribution_days) if launched else None
    view = VariantsView(
        rows=rows,
        email=campaign.channel == "email",
        note=report.variants_note,
        test_percent=campaign.variant_test_percent,
        test_hours=campaign.variant_test_hours,
        metric_name="conversion rate" if campaign.variant_metric == "converted" else "click rate",
        decides_at=launched + timedelta(hours=campaign.variant_test_hours or 0)
        if testing and launched
        else None,
        winner_at=campaign.winner_at,
        has_winner=campaign.winner is not None,
        status=campaign.status,
        launched=launched is not None,
        polling=window_ends is not None and window_ends > now,
    )
    return {"ab": view}


@router.get("/campaigns/{campaign_id}")
async def campaign_page(
    campaign_id: DbId, request: Request, session: SessionDep, services: ServicesDep, _: CurrentUser
) -> Response:
    context = await _campaign_context(session, campaign_id, services.settings)
    campaign: CampaignOut = context["campaign"]
    catalog = await services.catalog.get(session)
    # A marketer reads the message as a customer gets it and the rules as a sentence, never
    # the template source or the rule tree's JSON.
    try:
        reader, subject, message = await campaigns.preview_message(
            session,
            message=campaign.message,
            subject=campaign.subject,
            customer_external_id=None,
            raw_rules=campaign.rules,
            catalog=catalog,
        )
    except PulseError:
        reader, subject, message = None, None, None
    return render(
        request,
        "campaign.html",
        statuses=DELIVERY_STATUSES,
        audience_text=rules_text.sentence(
            campaign.rules, catalog, await campaigns.names(session, rules_text.campaign_ids(campaign.rules))
        ),
        reader=reader,
        rendered_subject=subject,
        rendered_message=message,
        personalised=message_templates.used_variables(campaign.message),
        tags=ai_tags.TAGS_IN_ORDER,
        **await _chart_context(session, campaign_id),
        **await _summary_context(session, campaign_id),
        **await _variants_context(session, services, campaign_id),
        **context,
    )


@router.get("/campaigns/{campaign_id}/summary")
async def campaign_summary(
    campaign_id: DbId, request: Request, session: SessionDep, _: CurrentUser
) -> Response:
    """The summary section, refreshed every 30 seconds while messages are still settling."""
    context = await _summary_context(session, campaign_id)
    return render(request, "_campaign_summary.html", campaign_id=campaign_id, **context)


@router.get("/campaigns/{campaign_id}/variants")
async def campaign_variants(
    campaign_id: DbId, request: Request, session: SessionDep, services: ServicesDep, _: CurrentUser
) -> Response:
    """The A/B section, refreshed every 30 seconds while its figures can still change."""
    context = await _variants_context(session, services, campaign_id)
    if context["ab"] is None:
        raise NotFound(f"campaign {campaign_id} has no variants")
    return render(request, "_campaign_variants.html", campaign_id=campaign_id, **context)


@router.get("/campaigns/{campaign_id}/chart")
async def campaign_chart(
    campaign_id: DbId, request: Request, session: SessionDep, _: CurrentUser
) -> Response:
    """The time chart, refreshed every 30 seconds while the attribution window is open."""
    return render(request, "_campaign_chart.html", **await _chart_context(session, campaign_id))


@router.get("/campaigns/{campaign_id}/live")
async def campaign_live(
    campaign_id: DbId, request: Request, session: SessionDep, services: ServicesDep, _: CurrentUser
) -> Response:
    """The counters and chart, polled by the campaign page while messages are in flight."""
    context = await _campaign_context(session, campaign_id, services.settings)
    response = render(request, "_campaign_live.html", **context)
    # The log below the counters reloads on this event, so its rows follow the same numbers.
    response.headers["HX-Trigger"] = "delivery-progress"
    return response


@router.get("/campaigns/{campaign_id}/log")
async def campaign_log(
    campaign_id: DbId,
    request: Request,
    session: SessionDep,
    _: CurrentUser,
    status: Annotated[str | None, Query(max_length=20)] = None,
    after: DbId | None = None,
) -> Response:
    chosen = status if status in DELIVERY_STATUSES else None
    rows, next_cursor = await campaigns.numbered_deliveries(
        session, campaign_id, status=chosen, limit=50, after_id=after
    )
    return render(
        request,
        "_delivery_log.html",
        campaign_id=campaign_id,
        rows=rows,
        next_cursor=next_cursor,
        status=chosen or "",
        first=after is None,
    )


@router.post("/campaigns/{campaign_id}/tags")
async def campaign_tags(
    campaign_id: DbId, session: WriteSessionDep, _: CurrentUser, form: CheckedForm
) -> Response:
    """The campaign page's tag form: the ticked tags replace the campaign's (none ticked: none)."""
    try:
        chosen = TagsIn.model_validate({"tags": [str(t) for t in form.getlist("tags")]})
    except ValidationError as exc:
        details, _count = validation_details(exc.errors(include_url=False))
        vocabulary = ", ".join(ai_tags.TAGS_IN_ORDER)
        raise InvalidInput(f"tags must be among: {vocabulary}", details=details) from None
    await campaigns.set_tags(session, campaign_id, chosen.tags)
    await session.commit()
    return RedirectResponse(f"/campaigns/{campaign_id}#tags", status_code=303)


@router.post("/campaigns/{campaign_id}/{action}")
async def campaign_action(
    campaign_id: DbId,
    action: str,
    session: WriteSessionDep,
    _: CurrentUser,
    __: CheckedForm,
) -> Response:
    if action not in {"pause", "resume", "cancel"}:
        raise NotFound(f"no campaign action {action!r}")
    await campaigns.change(session, campaign_id, action)
    await session.commit()
    return RedirectResponse(f"/campaigns/{campaign_id}", status_code=303)


# --- settings ----------------------------------------------------------------------------------


async def _keys_page(request: Request, session: SessionDep, status_code: int = 200, **extra: Any) -> Response:
    keys = [auth_service.key_summary(k) for k in await auth_service.list_keys(session)]
    return render(
        request, "api_keys.html", status_code=status_code, keys=keys, scopes=auth_service.SCOPES, **extra
    )


@router.get("/settings/api-keys")
async def api_keys(request: Request, session: SessionDep, _: CurrentUser) -> Response:
    return await _keys_page(request, session)


@router.post("/settings/api-keys")
async def api_key_create(
    request: Request, session: WriteSessionDep, services: ServicesDep, user: CurrentUser, form: CheckedForm
) -> Response:
    name = str(form.get("name") or "")
    scopes = [str(s) for s in form.getlist("scopes")]
    if "\x00" in name:  # PostgreSQL cannot store it
        return await _keys_page(request, session, status_code=422, error=f"The name {NUL_MESSAGE}.", name="")
    try:
        new = await auth_service.create_key(session, name=name, scopes=scopes, user_id=user.id)
    except PulseError as exc:
        await session.rollback()
        return await _keys_page(request, session, status_code=exc.status_code, error=exc.message, name=name)
    await session.commit()
    return await _keys_page(request, session, status_code=201, created=new.secret, created_name=new.key.name)


@router.post("/settings/api-keys/{key_id}/revoke")
async def api_key_revoke(
    key_id: DbId, session: WriteSessionDep, services: ServicesDep, _: CurrentUser, __: CheckedForm
) -> Response:
    await auth_service.revoke_key(session, key_id=key_id)
    await session.commit()
    services.api_keys.forget()
    return RedirectResponse("/settings/api-keys", status_code=303)


async def _users_page(
    request: Request, session: SessionDep, status_code: int = 200, **extra: Any
) -> Response:
    return render(
        request, "users.html", status_code=status_code, users=await users.list_users(session), **extra
    )


@router.get("/settings/users")
async def user_list(request: Request, session: SessionDep, _: CurrentUser) -> Response:
    return await _users_page(request, session)


@router.post("/settings/users")
async def user_create(
    request: Request, session: WriteSessionDep, _: CurrentUser, form: CheckedForm
) -> Response:
    values = {k: str(form.get(k) or "") for k in ("email", "name", "password")}
    if bad := [k for k, v in values.items() if "\x00" in v]:  # PostgreSQL cannot store it
        return await _users_page(request, session, status_code=422, error=f"The {bad[0]} {NUL_MESSAGE}.")
    try:
        await users.create_local(session, **values)
    except PulseError as exc:
        await session.rollback()
        return await _users_page(
            request, session, status_code=exc.status_code, error=exc.message, form=values | {"password": ""}
        )
    await session.commit()
    return await _users_page(request, session, status_code=201, notice=f"Created {values['email']}.")


@router.post("/settings/users/{user_id}/{action}")
async def user_toggle(
    user_id: DbId,
    action: str,
    session: WriteSessionDep,
    services: ServicesDep,
    user: CurrentUser,
    __: CheckedForm,
) -> Response:
    if action not in {"deactivate", "activate"}:
        raise NotFound(f"no user action {action!r}")
    if user_id == user.id and action == "deactivate":
        raise PulseError("you cannot switch off your own account")
    await users.set_active(session, user_id, action == "activate")
    await session.commit()
    services.users.forget()
    return RedirectResponse("/settings/users", status_code=303)


# --- uploads -----------------------------------------------------------------------------------


@router.get("/uploads")
async def upload_page(request: Request, _: CurrentUser) -> Response:
    return render(request, "uploads.html")


@router.post("/uploads/preview")
async def upload_preview(
    _: CurrentUser,
    __: CheckedForm,
    kind: Annotated[Kind, Form()],
    file: Annotated[UploadFile, File()],
) -> JSONResponse:
    """The mapping step: the browser sends the start of a CSV; the answer is its columns, the
    suggested target of each and their first values. Nothing is written."""
    uploads.check_suffix(Path(file.filename or "").suffix, field="file")
    head = await file.read(uploads.HEAD_BYTES)
    return JSONResponse(uploads.preview(kind, head))


@router.post("/uploads")
async def upload(
    services: ServicesDep,
    _: CurrentUser,
    __: CheckedForm,
    kind: Annotated[Kind, Form()],
    file: Annotated[UploadFile, File()],
    mapping: Annotated[str | None, Form(max_length=100_000)] = None,
) -> Response:
    """Import a CSV or NDJSON file; the answer streams progress lines (see ingest.uploads).
    `mapping` (JSON, one target per CSV column) is checked before anything is written."""
    suffix = uploads.check_suffix(Path(file.filename or "").suffix, field="file")
    path, size = await asyncio.to_thread(uploads.spool_file, file.file, suffix)
    try:
        targets = await asyncio.to_thread(uploads.parse_mapping, mapping, kind, path)
    except PulseError:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        raise
    lines = uploads.import_with_progress(
        services.db,
        kind,
        path,
        size,
        default_currency=services.settings.default_currency,
        consent_attributes=services.settings.consent_attributes,
        mapping=targets,
    )
    return StreamingResponse(lines, media_type="application/x-ndjson")
